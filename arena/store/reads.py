"""What the leaderboard (and the export) read: outcome counts per category, per-vote columns and arrays, versions.

Aggregates come from ``vote_counts``; only reads that need single votes (a
daily cap, style control, online Elo) touch ``votes``. The columnar reads run
on the engine, not a session: they go to the driver's cursor (or ADBC)
directly, for speed (see :mod:`arena.columnar`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

import numpy as np
from sqlalchemy import ColumnElement, Float, Select, and_, cast, func, literal_column, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from arena.categories import CATEGORIES, category_filter
from arena.columnar import read_columns
from arena.store.records import OutcomeCount
from arena.tables import Vote, VoteCount
from arena.vote_arrays import VoteArrays, read_vote_arrays

OUTCOME_COLUMNS = ("model_a", "model_b", "winner", "n")


def _counts_of(category: str) -> Select:
    """The query of *category*'s rows of ``vote_counts``."""
    return select(VoteCount.model_a, VoteCount.model_b, VoteCount.winner, VoteCount.n).where(VoteCount.category == category)


def outcome_counts(*, session: Session, category: str) -> list[OutcomeCount]:
    """Votes of *category* aggregated by (model_a, model_b, winner): a few rows per model pair."""
    return [OutcomeCount(a, b, w, n) for a, b, w, n in session.execute(_counts_of(category))]


def outcome_counts_capped(*, session: Session, category: str, daily_cap: int, long_prompt_tokens: int,
                          exclude_judges: Collection[int] = ()) -> list[OutcomeCount]:
    """Like :func:`outcome_counts`, keeping only each judge's first *daily_cap* votes per day (one SQL pass)."""
    ranked = (
        select(
            Vote.model_a, Vote.model_b, Vote.winner,
            func.row_number().over(partition_by=(Vote.judge_id, func.date(Vote.created_at)), order_by=Vote.id).label("nth"),
        )
        .where(_without_judges(category_filter(category, long_prompt_tokens), exclude_judges))
        .subquery()
    )
    query = (
        select(ranked.c.model_a, ranked.c.model_b, ranked.c.winner, func.count())
        .where(ranked.c.nth <= daily_cap)
        .group_by(ranked.c.model_a, ranked.c.model_b, ranked.c.winner)
    )
    return [OutcomeCount(a, b, w, n) for a, b, w, n in session.execute(query)]


def outcome_columns(*, engine: Engine, category: str) -> dict[str, np.ndarray]:
    """The counts of :func:`outcome_counts` as columns (model_a, model_b, winner, n): the fast path."""
    return read_columns(engine, _counts_of(category), list(OUTCOME_COLUMNS))


def category_total(*, session: Session, category: str) -> int:
    """Votes counted in *category* (the sum of its pair counts)."""
    return int(session.scalar(select(func.coalesce(func.sum(VoteCount.n), 0)).where(VoteCount.category == category)) or 0)


def categories(*, session: Session) -> list[str]:
    """Categories that have votes, in display order (fixed ones first, then languages)."""
    present = set(session.scalars(select(VoteCount.category).distinct()))
    fixed = [c for c in CATEGORIES if c in present]
    return fixed + sorted(present - set(fixed))


def votes_version(*, session: Session) -> int:
    """Grows with every new vote (the newest vote id); cheap, for cache invalidation."""
    return session.scalar(select(func.max(Vote.id))) or 0


def category_models(*, session: Session, category: str) -> list[str]:
    """Models with votes in *category*, from its pair counts (sorted)."""
    pairs = session.execute(select(VoteCount.model_a, VoteCount.model_b).where(VoteCount.category == category).distinct())
    return sorted({name for pair in pairs for name in pair})


def vote_columns_for(*, engine: Engine, category: str, columns: list[str], long_prompt_tokens: int, after_id: int = 0,
                     created_before: datetime | None = None, chunk: int = 200_000) -> dict[str, np.ndarray]:
    """Selected per-vote columns of *category* (id > *after_id*, older than *created_before*), in vote order.

    Numbers come back as numpy arrays and strings as :class:`~arena.coded.Coded`
    (see :func:`~arena.columnar.read_columns`).
    """
    query = (
        select(*[getattr(Vote, name) for name in columns])
        .where(category_filter(category, long_prompt_tokens), Vote.id > after_id)
        .order_by(Vote.id)
    )
    if created_before is not None:
        query = query.where(Vote.created_at < created_before)
    return read_columns(engine, query, columns, chunk=chunk)


def vote_arrays(*, engine: Engine, category: str, long_prompt_tokens: int, models: Callable[[], list[str]], style: bool = False,
                after_id: int = 0, created_before: datetime | None = None, exclude_judges: Collection[int] = ()) -> VoteArrays:
    """The votes of *category* with ``id > after_id`` as arrays (codes, scores, optional style counts), in vote order.

    *models* is called only if the read needs the category's model list (see :func:`~arena.vote_arrays.read_vote_arrays`).
    Votes of the judges in *exclude_judges* (ids) are left out.
    """
    where = _without_judges(category_filter(category, long_prompt_tokens), exclude_judges)
    return read_vote_arrays(engine, where, models=models, style=style, after_id=after_id, created_before=created_before)


def _without_judges(where: ColumnElement[bool], judges: Collection[int]) -> ColumnElement[bool]:
    return and_(where, Vote.judge_id.not_in(sorted(judges))) if judges else where


VOTER_COLUMNS = ("id", "judge_id", "model_a", "model_b", "winner", "time_to_vote_s", "at")


def _epoch_seconds(dialect: str) -> ColumnElement[float]:
    """The vote's moment in seconds since the epoch, computed by the database (no datetime object per vote)."""
    if dialect == "sqlite":  # stored as ISO text in UTC
        return (func.julianday(Vote.created_at) - literal_column("2440587.5")) * literal_column("86400.0")
    return cast(func.extract("epoch", Vote.created_at), Float)


def voter_columns(*, engine: Engine, category: str, long_prompt_tokens: int, after_id: int = 0) -> dict[str, np.ndarray]:
    """Every vote of *category* (id > *after_id*) with its judge id, time to vote and moment, in vote order.

    The suspicious-voter tests' input (:mod:`arena.suspicion`); columns as in
    :data:`VOTER_COLUMNS`, *at* in seconds since the epoch.
    """
    query = (select(Vote.id, Vote.judge_id, Vote.model_a, Vote.model_b, Vote.winner, Vote.time_to_vote_s,
                    _epoch_seconds(engine.dialect.name).label("at"))
             .where(category_filter(category, long_prompt_tokens), Vote.id > after_id).order_by(Vote.id))
    return read_columns(engine, query, list(VOTER_COLUMNS))


def judges_outcome_counts(*, session: Session, category: str, long_prompt_tokens: int,
                          judges: Collection[int]) -> list[OutcomeCount]:
    """The votes of *category* cast by *judges* (ids), aggregated like :func:`outcome_counts`: what excluding them removes."""
    ordered, total = sorted(judges), []
    for start in range(0, len(ordered), 500):  # a bounded number of parameters per statement
        query = (select(Vote.model_a, Vote.model_b, Vote.winner, func.count())
                 .where(category_filter(category, long_prompt_tokens), Vote.judge_id.in_(ordered[start:start + 500]))
                 .group_by(Vote.model_a, Vote.model_b, Vote.winner))
        total += [OutcomeCount(a, b, w, n) for a, b, w, n in session.execute(query)]
    return total
