"""Initial schema: judges, battles, conversations, messages, votes, arena_meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 11:25:44.826968
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('arena_meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('judges',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('judge_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('judge_hash')
    )
    op.create_table('battles',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('model_a', sa.String(length=100), nullable=False),
    sa.Column('model_b', sa.String(length=100), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('turns', sa.Integer(), nullable=False),
    sa.Column('leak_flag', sa.Boolean(), nullable=False),
    sa.Column('leak_terms', sa.JSON(), nullable=False),
    sa.Column('error_flag', sa.Boolean(), nullable=False),
    sa.Column('error_detail', sa.Text(), nullable=True),
    sa.Column('usage', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IN ('anony', 'named')", name='ck_battles_mode'),
    sa.ForeignKeyConstraint(['judge_id'], ['judges.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('battles', schema=None) as batch_op:
        batch_op.create_index('ix_battles_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_battles_models', ['model_a', 'model_b'], unique=False)

    op.create_table('conversations',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('battle_id', sa.String(length=32), nullable=True),
    sa.Column('side', sa.String(length=1), nullable=True),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('system_prompt', sa.Text(), nullable=True),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['battle_id'], ['battles.id'], ),
    sa.ForeignKeyConstraint(['judge_id'], ['judges.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('battle_id', 'side', name='uq_conversations_battle_side')
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_battle_id'), ['battle_id'], unique=False)

    op.create_table('votes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('battle_id', sa.String(length=32), nullable=False),
    sa.Column('winner', sa.String(length=16), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('time_to_vote_s', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("winner IN ('model_a', 'model_b', 'tie', 'tie (bothbad)')", name='ck_votes_winner'),
    sa.ForeignKeyConstraint(['battle_id'], ['battles.id'], ),
    sa.ForeignKeyConstraint(['judge_id'], ['judges.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('battle_id')
    )
    op.create_table('messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('superseded', sa.Boolean(), nullable=False),
    sa.Column('finish_reason', sa.String(length=32), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('completion_tokens', sa.Integer(), nullable=True),
    sa.Column('first_token_s', sa.Float(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('error_kind', sa.String(length=32), nullable=True),
    sa.Column('error_detail', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'position', name='uq_messages_conversation_position')
    )


def downgrade() -> None:
    op.drop_table('messages')
    op.drop_table('votes')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_battle_id'))

    op.drop_table('conversations')
    with op.batch_alter_table('battles', schema=None) as batch_op:
        batch_op.drop_index('ix_battles_models')
        batch_op.drop_index('ix_battles_created_at')

    op.drop_table('battles')
    op.drop_table('judges')
    op.drop_table('arena_meta')
