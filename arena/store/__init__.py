"""Persistence of battles, transcripts and votes (SQLAlchemy 2; SQLite or PostgreSQL).

Every write is one short transaction, taken through :meth:`Store.writing`; a
vote is acknowledged only after its transaction commits, and the unique key on
``votes.battle_id`` makes a second vote for the same battle impossible
whichever instance receives it.

:class:`Store` (in :mod:`arena.store.facade`) is what the rest of the app
holds; it delegates to one module per entity, each of keyword-only functions
over a SQLAlchemy ``Session``:

- :mod:`arena.store.engine`: engines, the writers' turn, schema upgrades, the dialect's upsert
- :mod:`arena.store.judges`: judge hashes and the ids of their rows
- :mod:`arena.store.battles`: battle starts, turns, flags, transcripts
- :mod:`arena.store.votes`: vote rows and the per-category counts beside them
- :mod:`arena.store.reads`: what the leaderboard and the export read
- :mod:`arena.store.meta`: the judge salt and online-Elo state in ``arena_meta``
- :mod:`arena.store.imports`: bulk import of voted battles
- :mod:`arena.store.judgements`: AI judges' verdicts on voted battles, and the judging worker's queue
"""

from arena.store.engine import MIGRATIONS_DIR, make_engine, upgrade_schema, upsert_for, utcnow, write_turn_for
from arena.store.facade import DEFAULT_LONG_PROMPT_TOKENS, Store
from arena.store.judgements import JudgementResult, PendingJudgement
from arena.store.judges import KNOWN_JUDGES
from arena.store.records import BattleRecord, OutcomeCount, VoteConflict
from arena.store.votes import vote_columns

__all__ = [
    "DEFAULT_LONG_PROMPT_TOKENS",
    "KNOWN_JUDGES",
    "MIGRATIONS_DIR",
    "BattleRecord",
    "JudgementResult",
    "OutcomeCount",
    "PendingJudgement",
    "Store",
    "VoteConflict",
    "make_engine",
    "upgrade_schema",
    "upsert_for",
    "utcnow",
    "vote_columns",
    "write_turn_for",
]
