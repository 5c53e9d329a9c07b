"""The judgements table: AI judges' verdicts on voted battles, and (its pending rows) the judging worker's queue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('judgements',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('vote_id', sa.Integer(), nullable=False),
    sa.Column('battle_id', sa.String(length=32), nullable=False),
    sa.Column('judge', sa.String(length=100), nullable=False),
    sa.Column('judge_kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('verdict', sa.String(length=4), nullable=True),
    sa.Column('consistent', sa.Boolean(), nullable=True),
    sa.Column('verdict_ab', sa.String(length=4), nullable=True),
    sa.Column('verdict_ba', sa.String(length=4), nullable=True),
    sa.Column('rationale_ab', sa.Text(), nullable=True),
    sa.Column('rationale_ba', sa.Text(), nullable=True),
    sa.Column('score_a', sa.Float(), nullable=True),
    sa.Column('score_b', sa.Float(), nullable=True),
    sa.Column('invalid_reason', sa.Text(), nullable=True),
    sa.Column('latency_s', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('judged_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'done', 'invalid', 'error')", name='ck_judgements_status'),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vote_id', 'judge', name='uq_judgements_vote_judge')
    )
    op.create_index('ix_judgements_queue', 'judgements', ['judge', 'status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_judgements_queue', table_name='judgements')
    op.drop_table('judgements')
