"""The transcript each vote judged, frozen on the vote (arena.snapshot), and the battle's moderation flag, for fast exports.

Existing votes get the snapshot of their battle's current messages, built in
batches, and a copy of their battle's moderation flag.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('votes', sa.Column('transcript', sa.Text(), nullable=True))  # plain ALTER TABLE: see 0003
    op.add_column('votes', sa.Column('moderation_flag', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE votes SET moderation_flag = (SELECT battles.moderation_flag FROM battles WHERE battles.id = votes.battle_id)")
    _backfill()


def _backfill() -> None:
    from itertools import groupby

    from arena.snapshot import assemble, freeze

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT c.battle_id, c.side, c.system_prompt, m.role, m.content, m.finish_reason"
        " FROM votes v JOIN conversations c ON c.battle_id = v.battle_id JOIN messages m ON m.conversation_id = c.id"
        " WHERE m.superseded = :no ORDER BY c.battle_id, c.side, m.position"
    ), {"no": False})
    updates = [{"battle": battle_id, "transcript": freeze(*assemble(row[1:] for row in battle_rows))}
               for battle_id, battle_rows in groupby(rows, key=lambda row: row[0])]
    statement = sa.text("UPDATE votes SET transcript = :transcript WHERE battle_id = :battle")
    for start in range(0, len(updates), 5000):
        bind.execute(statement, updates[start:start + 5000])


def downgrade() -> None:
    op.drop_column('votes', 'moderation_flag')
    op.drop_column('votes', 'transcript')
