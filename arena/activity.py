"""What the Admin tab shows about the arena's activity: votes per day and per model, flagged battles.

Plain queries over the store (aggregated in SQL), no UI: the tab renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, or_, select, union_all

from arena.store import Store
from arena.tables import Battle, Conversation, Message, Vote


@dataclass(frozen=True)
class FlaggedBattle:
    battle_id: str
    created_at: datetime
    mode: str
    model_a: str
    model_b: str
    reasons: tuple[str, ...]   # "identity leak", "moderation", "error"
    detail: str                # leak terms or error detail


def votes_per_day(store: Store, days: int = 30) -> list[tuple[date, int]]:
    """Votes per UTC day over the last *days* days (days without votes are included as 0)."""
    since = datetime.now(timezone.utc) - timedelta(days=days)
    day = func.date(Vote.created_at)  # 'YYYY-MM-DD' on SQLite, a date on PostgreSQL
    with store.session() as session:
        rows = session.execute(select(day, func.count()).where(Vote.created_at >= since).group_by(day)).all()
    counts = {(d if isinstance(d, date) else date.fromisoformat(str(d))): n for d, n in rows}
    today = datetime.now(timezone.utc).date()
    return [(today - timedelta(days=k), counts.get(today - timedelta(days=k), 0)) for k in range(days - 1, -1, -1)]


def votes_per_model(store: Store) -> list[tuple[str, int]]:
    """Votes each model took part in (either side), most first (then by name)."""
    sides = union_all(select(Vote.model_a.label("model")), select(Vote.model_b.label("model"))).subquery()
    with store.session() as session:
        rows = session.execute(select(sides.c.model, func.count()).group_by(sides.c.model).order_by(func.count().desc(), sides.c.model)).all()
    return [(model, int(n)) for model, n in rows]


def flagged_battles(store: Store, limit: int = 50) -> list[FlaggedBattle]:
    """The newest battles flagged for an identity leak, moderation or an error."""
    with store.session() as session:
        rows = session.scalars(
            select(Battle).where(or_(Battle.leak_flag, Battle.moderation_flag, Battle.error_flag))
            .order_by(Battle.created_at.desc()).limit(limit)
        ).all()
        out = []
        for b in rows:
            reasons = tuple(name for name, flag in (("identity leak", b.leak_flag), ("moderation", b.moderation_flag),
                                                    ("error", b.error_flag)) if flag)
            detail = "; ".join(filter(None, [", ".join(b.leak_terms or []), b.error_detail or ""]))
            out.append(FlaggedBattle(b.id, b.created_at, b.mode, b.model_a, b.model_b, reasons, detail))
    return out


def battle_transcripts(store: Store, battle_id: str) -> dict[str, list[tuple[str, str]]]:
    """Side → current messages as (role, content), for reviewing a flagged battle."""
    with store.session() as session:
        rows = session.execute(
            select(Conversation.side, Message.role, Message.content).join(Message, Message.conversation_id == Conversation.id)
            .where(Conversation.battle_id == battle_id, Message.superseded.is_(False))
            .order_by(Conversation.side, Message.position)
        ).all()
    out: dict[str, list[tuple[str, str]]] = {}
    for side, role, content in rows:
        assert side is not None, "a battle's conversations always have a side"
        out.setdefault(side, []).append((role, content))
    return out
