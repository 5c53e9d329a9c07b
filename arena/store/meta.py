"""Small facts shared by every instance through ``arena_meta``: the judge salt and each category's online-Elo state."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.store.engine import upsert_for
from arena.tables import ArenaMeta

JUDGE_SALT_KEY = "judge_salt"


def elo_key(category: str) -> str:
    return f"elo:{category}"


def get_value(*, session: Session, key: str) -> str | None:
    """The value stored under *key*, if any."""
    return session.scalar(select(ArenaMeta.value).where(ArenaMeta.key == key))


def add_if_absent(*, session: Session, key: str, value: str) -> str:
    """Store *value* under *key* unless a value is there already; return the one stored.

    ON CONFLICT DO NOTHING settles a race with another instance adding the same key (PostgreSQL waits
    for that insert, then skips its own; the read after it sees the winner's value).
    """
    session.execute(upsert_for(session)(ArenaMeta).values(key=key, value=value).on_conflict_do_nothing(index_elements=["key"]))
    stored = get_value(session=session, key=key)
    assert stored is not None
    return stored


def load_elo(*, session: Session, category: str) -> tuple[int, dict[str, float]]:
    """Saved online-Elo state of *category*: (last vote id folded in, ratings); (0, {}) if none."""
    saved = session.get(ArenaMeta, elo_key(category))
    if saved is None:
        return 0, {}
    state = json.loads(saved.value)
    return int(state["last_vote_id"]), {k: float(v) for k, v in state["ratings"].items()}


def save_elo(*, session: Session, category: str, last_vote_id: int, ratings: dict[str, float]) -> None:
    """Persist online-Elo state, never moving it backwards (the row is locked while compared, on PostgreSQL)."""
    key = elo_key(category)
    value = json.dumps({"last_vote_id": last_vote_id, "ratings": ratings})
    saved = session.get(ArenaMeta, key, with_for_update=True)
    if saved is None:
        session.add(ArenaMeta(key=key, value=value))
    elif json.loads(saved.value)["last_vote_id"] < last_vote_id:
        saved.value = value
