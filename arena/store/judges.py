"""Judges: salted hashes of voters' identities and the ids of their rows.

The raw identity (an IP address or session id) never reaches the database:
only ``sha256(salt:identity)`` does. Ids are remembered per process in a dict
the caller owns (the store's), since a vote and a battle start would each ask
the database for the same id otherwise.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.store.engine import upsert_for, utcnow
from arena.tables import Judge

KNOWN_JUDGES = 100_000  # judge ids remembered per process (about 15 MB)


def hash_judge(*, salt: str, raw_identity: str) -> str:
    """Salted SHA-256 of an IP or session identity; the raw value is never stored."""
    return hashlib.sha256(f"{salt}:{raw_identity}".encode()).hexdigest()


def judge_id(*, session: Session, judge_hash: str, known: dict[str, int]) -> int:
    """The id of *judge_hash*'s row, created if new.

    Ids already seen committed are remembered in *known* (they never change, and
    judges are never deleted): a vote and a battle start each asked the
    database first.
    """
    remembered = known.get(judge_hash)
    if remembered is not None:
        return remembered
    found = session.scalar(select(Judge.id).where(Judge.judge_hash == judge_hash))
    if found is not None:
        # Found by a transaction that had not created it, so committed: safe to remember. A row this
        # transaction creates is not remembered, since the transaction may yet roll back.
        if len(known) >= KNOWN_JUDGES:
            known.clear()  # start over: one step, safe with other threads writing (PostgreSQL)
        known[judge_hash] = found
        return found
    # Not a savepoint: pysqlite commits a SAVEPOINT taken before the transaction's first write on RELEASE, so
    # the judge was stored even when the rest rolled back. ON CONFLICT DO NOTHING also settles a race with another
    # instance creating the same judge (PostgreSQL waits for that insert, then skips its own).
    session.execute(upsert_for(session)(Judge).values(judge_hash=judge_hash, created_at=utcnow()).on_conflict_do_nothing(index_elements=["judge_hash"]))
    created = session.scalar(select(Judge.id).where(Judge.judge_hash == judge_hash))
    assert created is not None
    return created


def judge_ids(*, session: Session, hashes: set[str], known: dict[str, int]) -> dict[str, int]:
    """Ids for judge hashes, creating the missing ones (one query for those already stored)."""
    if not hashes:
        return {}
    found = {h: i for h, i in session.execute(select(Judge.judge_hash, Judge.id).where(Judge.judge_hash.in_(hashes)))}
    for judge_hash in sorted(hashes - set(found)):
        found[judge_hash] = judge_id(session=session, judge_hash=judge_hash, known=known)
    return found


def hashes_of(*, session: Session, ids: list[int]) -> dict[int, str]:
    """The salted hashes of the judges with these ids (for display and for the export's judge column)."""
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(select(Judge.id, Judge.judge_hash).where(Judge.id.in_(ids[start:start + 500])))
        found.update((judge, judge_hash) for judge, judge_hash in rows)
    return found
