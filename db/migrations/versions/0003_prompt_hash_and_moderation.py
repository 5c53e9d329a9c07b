"""Prompt hash on votes (grouping and de-duplication for exports) and a moderation flag on battles.

Existing votes get the hash of their battle's user turns (side a, current
messages), computed in batches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 14:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (no batch mode): on SQLite a batch rebuild of `battles` would have to
    # drop a table that conversations and votes reference.
    op.add_column('battles', sa.Column('moderation_flag', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('votes', sa.Column('prompt_hash', sa.String(length=64), nullable=True))
    op.create_index('ix_votes_prompt_hash', 'votes', ['prompt_hash'], unique=False)
    _backfill_prompt_hashes()


def _backfill_prompt_hashes() -> None:
    from arena.prompts import prompt_hash

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT c.battle_id, m.content FROM conversations c JOIN messages m ON m.conversation_id = c.id"
        " JOIN votes v ON v.battle_id = c.battle_id"
        " WHERE c.side = 'a' AND m.role = 'user' AND m.superseded = :no ORDER BY c.battle_id, m.position"
    ), {"no": False})
    updates: list[dict] = []
    current, turns = None, []

    def flush_battle() -> None:
        if current is not None:
            updates.append({"battle": current, "hash": prompt_hash(turns)})

    for battle_id, content in rows:
        if battle_id != current:
            flush_battle()
            current, turns = battle_id, []
        turns.append(content)
    flush_battle()
    statement = sa.text("UPDATE votes SET prompt_hash = :hash WHERE battle_id = :battle")
    for start in range(0, len(updates), 5000):
        bind.execute(statement, updates[start:start + 5000])


def downgrade() -> None:
    op.drop_index('ix_votes_prompt_hash', table_name='votes')
    op.drop_column('votes', 'prompt_hash')
    op.drop_column('battles', 'moderation_flag')
