"""Judgements: AI judges' verdicts on voted battles; the pending rows are the judging worker's queue.

A row is enqueued ``pending`` once per (vote, judge), the unique key refusing
a second. A worker claims pending rows in memory only (the claim bumps
*attempts*, nothing else): a row stays pending until its result is saved, and
the save applies only ``WHERE status = 'pending'``, so a killed worker loses
no work and a second save of the same row changes nothing. On PostgreSQL the
claim skips rows another transaction has locked (``FOR UPDATE SKIP LOCKED``);
on SQLite the write turn serialises claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, and_, case, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from arena.categories import category_filter
from arena.coded import encode
from arena.columnar import read_columns
from arena.judges.columns import JudgedColumns
from arena.store.engine import upsert_for, utcnow
from arena.tables import Judgement, Vote

FINISHED = ("done", "invalid")  # statuses of a judge's answer; "error" is a failure to get one


@dataclass(frozen=True)
class PendingJudgement:
    """A claimed queue row with what the worker needs to judge it: the vote's frozen transcript (arena.snapshot JSON)."""

    id: int
    vote_id: int
    battle_id: str
    judge: str
    transcript: str | None


@dataclass(frozen=True)
class JudgementResult:
    """What the worker saves on a row: *status* is ``done``, ``invalid`` or ``error``; verdicts name the original sides."""

    status: str
    verdict: str | None = None
    consistent: bool | None = None
    verdict_ab: str | None = None
    verdict_ba: str | None = None
    rationale_ab: str | None = None
    rationale_ba: str | None = None
    score_a: float | None = None
    score_b: float | None = None
    invalid_reason: str | None = None
    latency_s: float | None = None


def enqueue(*, session: Session, judge: str, judge_kind: str, since: datetime | None = None, limit: int | None = None) -> int:
    """Add a pending row for every vote *judge* has no row for (at or after *since*, the first *limit* by vote id); returns how many."""
    query = (
        select(Vote.id, Vote.battle_id)
        .outerjoin(Judgement, and_(Judgement.vote_id == Vote.id, Judgement.judge == judge))
        .where(Judgement.id.is_(None))
        .order_by(Vote.id)
    )
    if since is not None:
        query = query.where(Vote.created_at >= since)
    if limit is not None:
        query = query.limit(limit)
    now = utcnow()
    rows = [dict(vote_id=vote_id, battle_id=battle_id, judge=judge, judge_kind=judge_kind, status="pending", attempts=0, created_at=now)
            for vote_id, battle_id in session.execute(query)]
    if not rows:
        return 0
    # DO NOTHING: another process enqueueing the same votes at once is not an error (the unique key settles it).
    statement = upsert_for(session)(Judgement).on_conflict_do_nothing(index_elements=["vote_id", "judge"])
    for start in range(0, len(rows), 5000):
        session.execute(statement, rows[start:start + 5000])
    return len(rows)


def claim(*, session: Session, judge: str, limit: int, after_id: int = 0) -> list[PendingJudgement]:
    """Up to *limit* pending rows of *judge* with ``id > after_id``, in id order, their *attempts* bumped.

    The rows stay pending: the claim lives in the caller's memory (see the module's docstring).
    """
    query = (
        select(Judgement.id, Judgement.vote_id, Judgement.battle_id, Judgement.judge, Vote.transcript)
        .join(Vote, Vote.id == Judgement.vote_id)
        .where(Judgement.judge == judge, Judgement.status == "pending", Judgement.id > after_id)
        .order_by(Judgement.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Judgement)
    claimed = [PendingJudgement(*row) for row in session.execute(query)]
    if claimed:
        session.execute(update(Judgement).where(Judgement.id.in_([c.id for c in claimed])).values(attempts=Judgement.attempts + 1))
    return claimed


def save_result(*, session: Session, judgement_id: int, result: JudgementResult) -> bool:
    """Store *result* on a still-pending row; False when the row was no longer pending (saved already)."""
    values: dict[str, Any] = {name: getattr(result, name) for name in JudgementResult.__dataclass_fields__}
    statement = (
        update(Judgement)
        .where(Judgement.id == judgement_id, Judgement.status == "pending")
        .values(**values, judged_at=utcnow())
    )
    outcome = session.execute(statement)
    return bool(cast(CursorResult, outcome).rowcount)


def requeue_errors(*, session: Session, judge: str, max_attempts: int) -> int:
    """Make *judge*'s ``error`` rows with fewer than *max_attempts* attempts pending again (an outage is retried, a bad answer is not)."""
    statement = (update(Judgement)
                 .where(Judgement.judge == judge, Judgement.status == "error", Judgement.attempts < max_attempts)
                 .values(status="pending"))
    return int(cast(CursorResult, session.execute(statement)).rowcount)


def status_counts(*, session: Session, judge: str | None = None) -> dict[str, dict[str, int]]:
    """Rows per judge and status."""
    query = select(Judgement.judge, Judgement.status, func.count()).group_by(Judgement.judge, Judgement.status)
    if judge is not None:
        query = query.where(Judgement.judge == judge)
    counts: dict[str, dict[str, int]] = {}
    for name, status, n in session.execute(query):
        counts.setdefault(name, {})[status] = int(n)
    return counts


_STYLE = ("len", "headers", "lists", "bold")
_COLUMNS = ["judge", "model_a", "model_b", "winner", "verdict", "consistent",
            *(f"{field}_{side}" for side in "ab" for field in _STYLE)]


def judged_columns(*, engine: Engine, judges: list[str] | None = None, category: str | None = None,
                   long_prompt_tokens: int = 500) -> JudgedColumns:
    """Judges' answers (``done`` or ``invalid``) beside the human vote and both answers' style counts, column-wise (no
    Python object per battle), judge by judge in vote order; only *category*'s votes if given. The agreement report's input."""
    verdict = case((Judgement.verdict == "a", 0), (Judgement.verdict == "b", 1), (Judgement.verdict == "tie", 2), else_=-1)
    query = (
        select(Judgement.judge, Vote.model_a, Vote.model_b, Vote.winner, verdict,
               case((Judgement.consistent.is_(True), 1), else_=0),
               *(getattr(Vote, f"{field}_{side}") for side in "ab" for field in _STYLE))
        .join(Vote, Vote.id == Judgement.vote_id)
        .where(Judgement.status.in_(FINISHED))
        .order_by(Judgement.judge, Vote.id)
    )
    if judges:
        query = query.where(Judgement.judge.in_(judges))
    if category is not None:
        query = query.where(category_filter(category, long_prompt_tokens))
    columns = read_columns(engine, query, _COLUMNS)
    style = {side: np.stack([np.asarray(columns[f"{field}_{side}"], dtype=np.int64) for field in _STYLE], axis=1)
             if len(columns["verdict"]) else np.zeros((0, 4), dtype=np.int64) for side in "ab"}
    return JudgedColumns(judge=encode(columns["judge"]), model_a=encode(columns["model_a"]), model_b=encode(columns["model_b"]),
                         human_winner=encode(columns["winner"]), verdict=np.asarray(columns["verdict"], dtype=np.int64),
                         consistent=np.asarray(columns["consistent"], dtype=bool), style_a=style["a"], style_b=style["b"])


def judgements_of(*, session: Session, judge: str | None = None) -> list[Judgement]:
    """Every row (of *judge*), in id order: for tests and the admin's inspection."""
    query = select(Judgement).order_by(Judgement.id)
    if judge is not None:
        query = query.where(Judgement.judge == judge)
    return list(session.scalars(query))
