"""`Store`: the one object services, UI, CLI and tests hold; it owns the engine, sessions and the write path.

Each method opens a session (reads) or takes :meth:`Store.writing` (writes)
and hands it to the entity functions of :mod:`arena.store.battles`,
:mod:`~arena.store.votes`, :mod:`~arena.store.reads`, :mod:`~arena.store.meta`,
:mod:`~arena.store.judges`, :mod:`~arena.store.judgements` and :mod:`~arena.store.imports`, which never open
transactions of their own.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import ContextManager

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from arena import battle as battle_rules
from arena.categories import DEFAULT_CATEGORY, category_filter
from arena.domain import VoteFacts
from arena.judges.columns import JudgedColumns
from arena.store import battles, imports, judgements, judges, meta, reads, votes
from arena.store.engine import commits_in_id_order, make_engine, ping_database, upgrade_schema, utcnow, write_turn_for
from arena.store.judgements import JudgementResult, PendingJudgement
from arena.store.records import BattleRecord, OutcomeCount, VoteConflict
from arena.tables import Battle, Message
from arena.vote_arrays import VoteArrays
from arena.write_turn import WriteTurn

log = logging.getLogger(__name__)

DEFAULT_LONG_PROMPT_TOKENS = 500


class Store:
    """The arena's database: one instance per process, shared by all sessions."""

    def __init__(self, url: str, *, migrate: bool = True, long_prompt_tokens: int = DEFAULT_LONG_PROMPT_TOKENS) -> None:
        self.url = url
        self.long_prompt_tokens = long_prompt_tokens
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._salt: str | None = None
        self._known_judges: dict[str, int] = {}  # judge hash -> id (see judges.judge_id)
        self._write_turn: ContextManager = write_turn_for(self.engine)
        if migrate:
            upgrade_schema(self.engine)
            if self._counts_missing():
                log.info("vote_counts is empty but votes exist: rebuilding it")
                self.rebuild_vote_counts()

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session in a transaction that commits on success: every write goes through here (see ``_write_turn``)."""
        with self._write_turn, self.session() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
        if isinstance(self._write_turn, WriteTurn):
            self._write_turn.close()

    def ping(self) -> None:
        """One round trip to the database (``SELECT 1``); raises if it does not answer (the health route)."""
        ping_database(engine=self.engine)

    # --- judges ------------------------------------------------------------
    def judge_salt(self, configured: str = "") -> str:
        """The salt for judge hashes: configured, or generated once and shared via the database."""
        if configured:
            return configured
        if not self._salt:
            self._salt = self._shared_salt()
        return self._salt

    def _shared_salt(self) -> str:
        """The salt in ``arena_meta``, created by whichever instance asks first."""
        with self.session() as session:
            salt = meta.get_value(session=session, key=meta.JUDGE_SALT_KEY)
        if salt is None:
            with self.writing() as session:
                salt = meta.add_if_absent(session=session, key=meta.JUDGE_SALT_KEY, value=secrets.token_hex(32))
        return salt

    def hash_judge(self, raw_identity: str, configured_salt: str = "") -> str:
        """Salted SHA-256 of an IP or session identity; the raw value is never stored."""
        return judges.hash_judge(salt=self.judge_salt(configured_salt), raw_identity=raw_identity)

    def _judge_id(self, session: Session, judge_hash: str) -> int:
        """The id of *judge_hash*'s row, created if new (remembered once seen committed)."""
        return judges.judge_id(session=session, judge_hash=judge_hash, known=self._known_judges)

    # --- battles and conversations ------------------------------------------
    def save_start(self, battle: battle_rules.Battle) -> None:
        """Insert the battle (or direct chat) and its conversations, once."""
        if battle.persisted:
            return
        now = utcnow()
        with self.writing() as session:
            judge_id = self._judge_id(session, battle.judge_hash)
            battles.insert_start(session=session, battle=battle, judge_id=judge_id, now=now)
        battle.persisted = True

    def save_turn(self, battle: battle_rules.Battle, *, regenerated: bool) -> None:
        """Store the newest user turn and answers (and mark replaced answers on regenerate)."""
        now = utcnow()
        with self.writing() as session:
            battles.insert_turn(session=session, battle=battle, regenerated=regenerated, now=now)

    def flag_moderation(self, battle_id: str) -> None:
        """Mark a stored battle as flagged by content moderation (a refused prompt: nothing else changes)."""
        with self.writing() as session:
            battles.flag_moderation(session=session, battle_id=battle_id, now=utcnow())

    def battle_row(self, battle_id: str) -> Battle | None:
        with self.session() as session:
            return battles.battle_row(session=session, battle_id=battle_id)

    def transcript(self, conversation_id: str, *, include_superseded: bool = False) -> list[Message]:
        with self.session() as session:
            return battles.transcript(session=session, conversation_id=conversation_id, include_superseded=include_superseded)

    # --- votes ---------------------------------------------------------------
    def record_vote(self, battle_id: str, facts: VoteFacts, judge_hash: str, time_to_vote_s: float) -> None:
        """Insert the vote, bump its category counts and close the battle, in one transaction.

        Raises :class:`VoteConflict` if the battle already has a vote.
        """
        try:
            with self.writing() as session:
                judge_id = self._judge_id(session, judge_hash)
                votes.insert_vote(session=session, battle_id=battle_id, facts=facts, judge_id=judge_id,
                                  time_to_vote_s=time_to_vote_s, long_prompt_tokens=self.long_prompt_tokens)
        except IntegrityError:
            existing = self.vote_for(battle_id)
            if existing is None:
                raise
            raise VoteConflict(existing) from None

    def vote_for(self, battle_id: str) -> str | None:
        with self.session() as session:
            return votes.winner_of(session=session, battle_id=battle_id)

    def rebuild_vote_counts(self) -> None:
        """Recompute vote_counts from the votes table (after imports, or a new long-prompt threshold)."""
        with self.writing() as session:
            votes.rebuild_counts(session=session, long_prompt_tokens=self.long_prompt_tokens)

    def _counts_missing(self) -> bool:
        with self.session() as session:
            return votes.counts_missing(session=session)

    def insert_battles(self, records: list[BattleRecord]) -> tuple[int, int]:
        """Insert voted battles with transcripts, votes and counts in one transaction; skip ids already stored.

        Returns (inserted, skipped as duplicates).
        """
        if not records:
            return 0, 0
        with self.writing() as session:
            inserted = imports.insert_battles(session=session, records=records, long_prompt_tokens=self.long_prompt_tokens,
                                              known_judges=self._known_judges)
        return inserted, len(records) - inserted

    # --- reads for ratings ------------------------------------------------------
    def outcome_counts(self, category: str = DEFAULT_CATEGORY) -> list[OutcomeCount]:
        """Votes of *category* aggregated by (model_a, model_b, winner): a few rows per model pair."""
        category_filter(category, self.long_prompt_tokens)  # raises UnknownCategory early
        with self.session() as session:
            return reads.outcome_counts(session=session, category=category)

    def outcome_counts_capped(self, category: str, daily_cap: int, *, exclude_judges: Collection[int] = ()) -> list[OutcomeCount]:
        """Like :meth:`outcome_counts`, keeping only each judge's first *daily_cap* votes per day (one SQL pass)."""
        with self.session() as session:
            return reads.outcome_counts_capped(session=session, category=category, daily_cap=daily_cap,
                                               long_prompt_tokens=self.long_prompt_tokens, exclude_judges=exclude_judges)

    def outcome_columns(self, category: str = DEFAULT_CATEGORY) -> dict[str, np.ndarray]:
        """The counts of :meth:`outcome_counts` as columns (model_a, model_b, winner, n): the fast path."""
        category_filter(category, self.long_prompt_tokens)  # raises UnknownCategory early
        return reads.outcome_columns(engine=self.engine, category=category)

    def load_elo(self, category: str) -> tuple[int, dict[str, float]]:
        """Saved online-Elo state of *category*: (last vote id folded in, ratings)."""
        with self.session() as session:
            return meta.load_elo(session=session, category=category)

    def save_elo(self, category: str, last_vote_id: int, ratings: dict[str, float]) -> None:
        """Persist online-Elo state (never moving it backwards), so a restart folds in only new votes."""
        with self.writing() as session:
            meta.save_elo(session=session, category=category, last_vote_id=last_vote_id, ratings=ratings)

    @property
    def commits_in_id_order(self) -> bool:
        """True when a reader that sees vote id V already sees every smaller id (see :func:`arena.store.engine.commits_in_id_order`)."""
        return commits_in_id_order(engine=self.engine)

    def category_total(self, category: str) -> int:
        """Votes counted in *category* (the sum of its pair counts)."""
        with self.session() as session:
            return reads.category_total(session=session, category=category)

    def categories(self) -> list[str]:
        """Categories that have votes, in display order (fixed ones first, then languages)."""
        with self.session() as session:
            return reads.categories(session=session)

    def votes_version(self) -> int:
        """Grows with every new vote (the newest vote id); cheap, for cache invalidation."""
        with self.session() as session:
            return reads.votes_version(session=session)

    def vote_columns_for(self, category: str, columns: list[str], *, after_id: int = 0, created_before: datetime | None = None,
                         chunk: int = 200_000) -> dict[str, np.ndarray]:
        """Selected per-vote columns of *category* (id > *after_id*, older than *created_before*), in vote order."""
        return reads.vote_columns_for(engine=self.engine, category=category, columns=columns,
                                      long_prompt_tokens=self.long_prompt_tokens, after_id=after_id,
                                      created_before=created_before, chunk=chunk)

    def vote_arrays(self, category: str, *, style: bool = False, after_id: int = 0,
                    created_before: datetime | None = None, exclude_judges: Collection[int] = ()) -> VoteArrays:
        """The votes of *category* with ``id > after_id`` as arrays (codes, scores, optional style counts), in vote order."""
        return reads.vote_arrays(engine=self.engine, category=category, long_prompt_tokens=self.long_prompt_tokens,
                                 models=lambda: self.category_models(category), style=style, after_id=after_id,
                                 created_before=created_before, exclude_judges=exclude_judges)

    # --- reads for the suspicious-voter tests (arena.suspicion) --------------------
    def voter_columns(self, category: str = DEFAULT_CATEGORY, *, after_id: int = 0) -> dict[str, np.ndarray]:
        """Every vote of *category* (id > *after_id*) with its judge id, time to vote and moment, in vote order."""
        category_filter(category, self.long_prompt_tokens)  # raises UnknownCategory early
        return reads.voter_columns(engine=self.engine, category=category, long_prompt_tokens=self.long_prompt_tokens,
                                   after_id=after_id)

    def judges_outcome_counts(self, category: str, judge_ids: Collection[int]) -> list[OutcomeCount]:
        """The votes of *category* cast by these judges, aggregated by (model_a, model_b, winner)."""
        with self.session() as session:
            return reads.judges_outcome_counts(session=session, category=category, long_prompt_tokens=self.long_prompt_tokens,
                                               judges=judge_ids)

    def judge_hashes(self, judge_ids: Collection[int]) -> dict[int, str]:
        """The salted hashes of these judges (by id)."""
        with self.session() as session:
            return judges.hashes_of(session=session, ids=sorted(judge_ids))

    def category_models(self, category: str) -> list[str]:
        """Models with votes in *category*, from its pair counts (sorted)."""
        with self.session() as session:
            return reads.category_models(session=session, category=category)

    # --- AI judgements (the judging worker's queue) ------------------------------
    def enqueue_judgements(self, judge: str, judge_kind: str, *, since: datetime | None = None, limit: int | None = None) -> int:
        """Queue every vote *judge* has not judged (at or after *since*, the first *limit*); returns how many were queued."""
        with self.writing() as session:
            return judgements.enqueue(session=session, judge=judge, judge_kind=judge_kind, since=since, limit=limit)

    def claim_judgements(self, judge: str, limit: int, *, after_id: int = 0) -> list[PendingJudgement]:
        """Up to *limit* pending rows of *judge* after *after_id* (they stay pending until a result is saved)."""
        with self.writing() as session:
            return judgements.claim(session=session, judge=judge, limit=limit, after_id=after_id)

    def save_judgement(self, judgement_id: int, result: JudgementResult) -> bool:
        """Store a result on a pending row; False if it had been saved already."""
        with self.writing() as session:
            return judgements.save_result(session=session, judgement_id=judgement_id, result=result)

    def requeue_judgement_errors(self, judge: str, *, max_attempts: int) -> int:
        """Put *judge*'s ``error`` rows tried fewer than *max_attempts* times back in the queue; returns how many."""
        with self.writing() as session:
            return judgements.requeue_errors(session=session, judge=judge, max_attempts=max_attempts)

    def judgement_counts(self, judge: str | None = None) -> dict[str, dict[str, int]]:
        """Rows per judge and status."""
        with self.session() as session:
            return judgements.status_counts(session=session, judge=judge)

    def judged_columns(self, judges: list[str] | None = None, *, category: str | None = None) -> JudgedColumns:
        """Judged battles (done or invalid) beside their human votes as columns, optionally only *category*'s: the report's input."""
        if category is not None:
            category_filter(category, self.long_prompt_tokens)  # raises UnknownCategory early
        return judgements.judged_columns(engine=self.engine, judges=judges, category=category, long_prompt_tokens=self.long_prompt_tokens)

