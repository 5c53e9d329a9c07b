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
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transcript', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('moderation_flag', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE votes SET moderation_flag = (SELECT battles.moderation_flag FROM battles WHERE battles.id = votes.battle_id)")
    _backfill()


def _backfill() -> None:
    from arena.snapshot import freeze

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT c.battle_id, c.side, c.system_prompt, m.role, m.content, m.finish_reason"
        " FROM votes v JOIN conversations c ON c.battle_id = v.battle_id JOIN messages m ON m.conversation_id = c.id"
        " WHERE m.superseded = :no ORDER BY c.battle_id, c.side, m.position"
    ), {"no": False})
    updates: list[dict] = []
    current, sides, reasons = None, {}, []

    def finish() -> None:
        if current is not None:
            updates.append({"battle": current, "transcript": freeze(sides.get("a", []), sides.get("b", []), reasons)})

    for battle_id, side, system_prompt, role, content, finish_reason in rows:
        if battle_id != current:
            finish()
            current, sides, reasons = battle_id, {}, []
        messages = sides.setdefault(side, [])
        if not messages and system_prompt:
            messages.append({"role": "system", "content": system_prompt})
        messages.append({"role": role, "content": content})
        if role == "assistant":
            reasons.append(finish_reason)
    finish()
    statement = sa.text("UPDATE votes SET transcript = :transcript WHERE battle_id = :battle")
    for start in range(0, len(updates), 5000):
        bind.execute(statement, updates[start:start + 5000])


def downgrade() -> None:
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_column('moderation_flag')
        batch_op.drop_column('transcript')
