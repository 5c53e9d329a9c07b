"""Vote facts copied onto votes (models, mode, flags, style counts) and the vote_counts table.

Existing votes get their models, mode, flags and turns from their battles; the
app rebuilds vote_counts at start when it is empty and votes exist.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 11:45:07.122736
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vote_counts',
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('model_a', sa.String(length=100), nullable=False),
    sa.Column('model_b', sa.String(length=100), nullable=False),
    sa.Column('winner', sa.String(length=16), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('category', 'model_a', 'model_b', 'winner')
    )
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model_a', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('model_b', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('mode', sa.String(length=8), server_default='anony', nullable=False))
        batch_op.add_column(sa.Column('leak_flag', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('error_flag', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('turns', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('user_tokens', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('len_a', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('len_b', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('headers_a', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('headers_b', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('lists_a', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('lists_b', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('bold_a', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('bold_b', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index('ix_votes_filter', ['mode', 'leak_flag', 'error_flag'], unique=False)

    for column in ("model_a", "model_b", "mode", "leak_flag", "error_flag", "turns"):
        op.execute(f"UPDATE votes SET {column} = (SELECT battles.{column} FROM battles WHERE battles.id = votes.battle_id)")


def downgrade() -> None:
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_index('ix_votes_filter')
        batch_op.drop_column('bold_b')
        batch_op.drop_column('bold_a')
        batch_op.drop_column('lists_b')
        batch_op.drop_column('lists_a')
        batch_op.drop_column('headers_b')
        batch_op.drop_column('headers_a')
        batch_op.drop_column('len_b')
        batch_op.drop_column('len_a')
        batch_op.drop_column('language')
        batch_op.drop_column('user_tokens')
        batch_op.drop_column('turns')
        batch_op.drop_column('error_flag')
        batch_op.drop_column('leak_flag')
        batch_op.drop_column('mode')
        batch_op.drop_column('model_b')
        batch_op.drop_column('model_a')

    op.drop_table('vote_counts')
