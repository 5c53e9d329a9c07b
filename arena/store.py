"""Persistence of battles, transcripts and votes (SQLAlchemy 2; SQLite or PostgreSQL).

Every write is one short transaction; a vote is acknowledged only after its
transaction commits, and the unique key on ``votes.battle_id`` makes a second
vote for the same battle impossible whichever instance receives it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import ContextManager, Iterator

import numpy as np
from sqlalchemy import create_engine, delete, event, func, literal, select, update
from sqlalchemy import insert as insert_into
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from arena import battle as domain
from arena.categories import CATEGORIES, DEFAULT_CATEGORY, LANGUAGE_PREFIX, categories_of, category_filter
from arena.columnar import read_columns
from arena.domain import VoteFacts
from arena.prompts import prompt_hash
from arena.snapshot import assemble, freeze
from arena.tables import ArenaMeta, Battle, Conversation, Judge, Message, Vote, VoteCount
from arena.vote_arrays import STYLE_LIMITS, VoteArrays, read_vote_arrays
from arena.write_turn import WriteTurn

log = logging.getLogger(__name__)

DEFAULT_LONG_PROMPT_TOKENS = 500
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "db" / "migrations"


class VoteConflict(Exception):
    """The battle already has a vote; *winner* is the one stored."""

    def __init__(self, winner: str) -> None:
        super().__init__(f"battle already voted: {winner}")
        self.winner = winner


@dataclass(frozen=True)
class OutcomeCount:
    """How often a (model_a, model_b, winner) outcome occurred."""

    model_a: str
    model_b: str
    winner: str
    count: int


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def make_engine(url: str) -> Engine:
    """An engine with the pragmas SQLite needs to be a good multi-reader store."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API object
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def upsert_for(session: Session):  # noqa: ANN201 - sqlalchemy's dialect-specific insert()
    """The ``insert`` of *session*'s dialect, the one with ``on_conflict_do_*`` (SQLite and PostgreSQL spell it alike)."""
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert


def write_turn_for(engine: Engine) -> ContextManager:
    """How writers of *engine*'s database take turns: on SQLite a :class:`WriteTurn` (its file's lock file
    beside it); PostgreSQL locks rows, not the database, so nothing."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    database = engine.url.database
    in_memory = not database or database == ":memory:" or database.startswith("file::memory:")
    return WriteTurn(None if in_memory else Path(f"{database}-write.lock"))


def upgrade_schema(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (run at every start)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several instances may start together; one migrates, the others wait.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(74657)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass(frozen=True)
class BattleRecord:
    """A finished, voted battle from elsewhere (an import), ready to insert in bulk."""

    battle_id: str
    facts: VoteFacts
    judge_hash: str
    created_at: datetime
    conversation_a: list[dict]
    conversation_b: list[dict]
    time_to_vote_s: float = 0.0
    moderation_flag: bool = False


KNOWN_JUDGES = 100_000  # judge ids remembered per process (about 15 MB)


class Store:
    """The arena's database: one instance per process, shared by all sessions."""

    def __init__(self, url: str, *, migrate: bool = True, long_prompt_tokens: int = DEFAULT_LONG_PROMPT_TOKENS) -> None:
        self.url = url
        self.long_prompt_tokens = long_prompt_tokens
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._salt: str | None = None
        self._known_judges: dict[str, int] = {}  # judge hash -> id (see _judge_id)
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
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    # --- judges ------------------------------------------------------------
    def judge_salt(self, configured: str = "") -> str:
        """The salt for judge hashes: configured, or generated once and shared via the database."""
        if configured:
            return configured
        if self._salt:
            return self._salt
        with self.session() as session:
            existing = session.get(ArenaMeta, "judge_salt")
            if existing is None:
                session.add(ArenaMeta(key="judge_salt", value=secrets.token_hex(32)))
                try:
                    session.commit()
                except IntegrityError:  # another instance won the race
                    session.rollback()
                existing = session.get(ArenaMeta, "judge_salt")
            assert existing is not None
            self._salt = existing.value
        return self._salt

    def hash_judge(self, raw_identity: str, configured_salt: str = "") -> str:
        """Salted SHA-256 of an IP or session identity; the raw value is never stored."""
        salt = self.judge_salt(configured_salt)
        return hashlib.sha256(f"{salt}:{raw_identity}".encode()).hexdigest()

    def _judge_id(self, session: Session, judge_hash: str) -> int:
        """The id of *judge_hash*'s row, created if new.

        Ids already seen committed are remembered (they never change, and
        judges are never deleted): a vote and a battle start each asked the
        database first.
        """
        known = self._known_judges.get(judge_hash)
        if known is not None:
            return known
        found = session.scalar(select(Judge.id).where(Judge.judge_hash == judge_hash))
        if found is not None:
            # Found by a transaction that had not created it, so committed: safe to remember. A row this
            # transaction creates is not remembered, since the transaction may yet roll back.
            if len(self._known_judges) >= KNOWN_JUDGES:
                self._known_judges.clear()  # start over: one step, safe with other threads writing (PostgreSQL)
            self._known_judges[judge_hash] = found
            return found
        # Not a savepoint: pysqlite commits a SAVEPOINT taken before the transaction's first write on RELEASE, so
        # the judge was stored even when the rest rolled back. ON CONFLICT DO NOTHING also settles a race with another
        # instance creating the same judge (PostgreSQL waits for that insert, then skips its own).
        session.execute(upsert_for(session)(Judge).values(judge_hash=judge_hash, created_at=utcnow()).on_conflict_do_nothing(index_elements=["judge_hash"]))
        created = session.scalar(select(Judge.id).where(Judge.judge_hash == judge_hash))
        assert created is not None
        return created

    # --- battles and conversations ------------------------------------------
    def save_start(self, battle: domain.Battle) -> None:
        """Insert the battle (or direct chat) and its conversations, once."""
        if battle.persisted:
            return
        now = utcnow()
        # Core statements, not the ORM's unit of work: half of this method's CPU went to the latter.
        with self.writing() as session:
            judge_id = self._judge_id(session, battle.judge_hash)
            if battle.mode != "direct":
                session.execute(insert_into(Battle.__table__), [dict(
                    id=battle.id, mode=battle.mode, model_a=battle.sides["a"].model, model_b=battle.sides["b"].model,
                    judge_id=judge_id, status="chatting", turns=0, leak_flag=False, leak_terms=[], error_flag=False,
                    usage={}, created_at=now, updated_at=now,
                )])
            session.execute(insert_into(Conversation.__table__), [dict(
                id=side.conversation_id,
                battle_id=battle.id if battle.mode != "direct" else None,
                side=side_name if battle.mode != "direct" else None,
                mode=battle.mode, model=side.model, system_prompt=side.system_prompt, judge_id=judge_id, created_at=now,
            ) for side_name, side in battle.sides.items()])
        battle.persisted = True

    def save_turn(self, battle: domain.Battle, *, regenerated: bool) -> None:
        """Store the newest user turn and answers (and mark replaced answers on regenerate)."""
        now = utcnow()
        rows: list[dict] = []  # inserted in one statement: the ORM's unit of work was a third of this method's CPU
        with self.writing() as session:
            for side in battle.sides.values():
                next_position = session.scalar(
                    select(func.coalesce(func.max(Message.position), -1)).where(Message.conversation_id == side.conversation_id)
                ) + 1
                if regenerated:
                    last_answer = session.scalar(
                        select(func.max(Message.position)).where(
                            Message.conversation_id == side.conversation_id,
                            Message.role == "assistant",
                            Message.superseded.is_(False),
                        )
                    )
                    if last_answer is not None:
                        session.execute(
                            update(Message)
                            .where(Message.conversation_id == side.conversation_id, Message.position == last_answer)
                            .values(superseded=True)
                        )
                else:
                    rows.append(_message_row(side.conversation_id, next_position, battle.turns, "user",
                                             side.messages[-2]["content"], now))
                    next_position += 1
                stats = side.stats[-1] if side.stats else None
                rows.append(_message_row(
                    side.conversation_id, next_position, battle.turns, "assistant", side.messages[-1]["content"], now,
                    finish_reason=stats.finish_reason if stats else None,
                    prompt_tokens=stats.prompt_tokens if stats else None,
                    completion_tokens=stats.completion_tokens if stats else None,
                    first_token_s=stats.first_token_s if stats else None,
                    duration_s=stats.duration_s if stats else None,
                    error_kind=side.error_kind,
                    error_detail=side.error_detail,
                ))
            session.execute(insert_into(Message.__table__), rows)
            if battle.mode != "direct":
                errors = [f"{n}: {s.error_kind}: {s.error_detail}" for n, s in battle.sides.items() if s.status == "error"]
                values: dict = dict(
                    turns=battle.turns,
                    leak_flag=battle.leaked,
                    leak_terms=sorted(battle.leak_terms),
                    moderation_flag=battle.moderated,
                    usage=_usage(battle),
                    updated_at=now,
                )
                if battle.ever_failed:
                    values.update(status="failed", error_flag=True)
                if errors:
                    values["error_detail"] = "\n".join(errors)
                session.execute(update(Battle).where(Battle.id == battle.id).values(**values))

    def flag_moderation(self, battle_id: str) -> None:
        """Mark a stored battle as flagged by content moderation (a refused prompt: nothing else changes)."""
        with self.writing() as session:
            session.execute(update(Battle).where(Battle.id == battle_id).values(moderation_flag=True, updated_at=utcnow()))

    # --- votes ---------------------------------------------------------------
    def record_vote(self, battle_id: str, facts: VoteFacts, judge_hash: str, time_to_vote_s: float) -> None:
        """Insert the vote, bump its category counts and close the battle, in one transaction.

        Raises :class:`VoteConflict` if the battle already has a vote.
        """
        try:
            with self.writing() as session:
                judge_id = self._judge_id(session, judge_hash)
                conversation_a, conversation_b, finish_reasons = self._current_transcript(session, battle_id)
                # Closing the battle tells whether moderation flagged it, in one statement (undone if the insert fails).
                moderated = bool(session.scalar(
                    update(Battle).where(Battle.id == battle_id).values(status="voted", updated_at=utcnow()).returning(Battle.moderation_flag)
                ))
                session.execute(insert_into(Vote.__table__), [dict(
                    battle_id=battle_id, judge_id=judge_id, time_to_vote_s=time_to_vote_s, created_at=utcnow(),
                    prompt_hash=prompt_hash(m["content"] for m in conversation_a if m["role"] == "user"),
                    transcript=freeze(conversation_a, conversation_b, finish_reasons), moderation_flag=moderated,
                    **vote_columns(facts),
                )])
                self._bump_counts(session, Counter(
                    (category, facts.model_a, facts.model_b, facts.winner) for category in categories_of(facts, self.long_prompt_tokens)
                ))
        except IntegrityError:
            existing = self.vote_for(battle_id)
            if existing is None:
                raise
            raise VoteConflict(existing) from None

    @staticmethod
    def _current_transcript(session: Session, battle_id: str) -> tuple[list[dict], list[dict], list[str | None]]:
        """Both sides' current messages (system prompt first, if any) and the answers' finish reasons."""
        return assemble(session.execute(
            select(Conversation.side, Conversation.system_prompt, Message.role, Message.content, Message.finish_reason)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Conversation.battle_id == battle_id, Message.superseded.is_(False))
            .order_by(Conversation.side, Message.position)
        ))

    def _bump_counts(self, session: Session, increments: Counter) -> None:
        """Add to vote_counts with one upsert per key (atomic on SQLite and PostgreSQL)."""
        if not increments:
            return
        insert = upsert_for(session)
        rows = [dict(category=c, model_a=a, model_b=b, winner=w, n=n) for (c, a, b, w), n in sorted(increments.items())]
        statement = insert(VoteCount)
        statement = statement.on_conflict_do_update(
            index_elements=["category", "model_a", "model_b", "winner"], set_={"n": VoteCount.n + statement.excluded.n}
        )
        session.execute(statement, rows)

    def rebuild_vote_counts(self) -> None:
        """Recompute vote_counts from the votes table (after imports, or a new long-prompt threshold)."""
        with self.writing() as session:
            session.execute(delete(VoteCount))
            languages = [row[0] for row in session.execute(select(Vote.language).where(Vote.language.is_not(None)).distinct())]
            for category in [*CATEGORIES, *(LANGUAGE_PREFIX + code for code in languages)]:
                query = (
                    select(literal(category), Vote.model_a, Vote.model_b, Vote.winner, func.count())
                    .where(category_filter(category, self.long_prompt_tokens))
                    .group_by(Vote.model_a, Vote.model_b, Vote.winner)
                )
                session.execute(insert_into(VoteCount).from_select(["category", "model_a", "model_b", "winner", "n"], query))

    def insert_battles(self, records: list[BattleRecord]) -> tuple[int, int]:
        """Insert voted battles with transcripts, votes and counts in one transaction; skip ids already stored.

        Returns (inserted, skipped as duplicates).
        """
        if not records:
            return 0, 0
        unique = list({r.battle_id: r for r in records}.values())
        with self.writing() as session:
            ids = [r.battle_id for r in unique]
            existing = set(session.scalars(select(Battle.id).where(Battle.id.in_(ids))))
            fresh = [r for r in unique if r.battle_id not in existing]
            judges = self._judge_ids(session, {r.judge_hash for r in fresh})
            battles, conversations, messages, votes = [], [], [], []
            increments: Counter = Counter()
            for r in fresh:
                f = r.facts
                judge_id = judges[r.judge_hash]
                battles.append(dict(
                    id=r.battle_id, mode=f.mode, model_a=f.model_a, model_b=f.model_b, judge_id=judge_id, status="voted",
                    turns=f.turns, leak_flag=f.leak_flag, leak_terms=[], error_flag=f.error_flag, usage={},
                    moderation_flag=r.moderation_flag, created_at=r.created_at, updated_at=r.created_at,
                ))
                for side, model, transcript in (("a", f.model_a, r.conversation_a), ("b", f.model_b, r.conversation_b)):
                    conversation_id = uuid.uuid5(uuid.NAMESPACE_URL, f"arena-battle/{r.battle_id}/{side}").hex
                    conversations.append(dict(
                        id=conversation_id, battle_id=r.battle_id, side=side, mode=f.mode, model=model,
                        system_prompt=None, judge_id=judge_id, created_at=r.created_at,
                    ))
                    turn = 0
                    for position, message in enumerate(transcript):
                        turn += message["role"] == "user"
                        messages.append(dict(
                            conversation_id=conversation_id, position=position, turn=max(turn, 1), role=message["role"],
                            content=message["content"], superseded=False, created_at=r.created_at,
                        ))
                votes.append(dict(battle_id=r.battle_id, judge_id=judge_id, time_to_vote_s=r.time_to_vote_s,
                                  created_at=r.created_at, prompt_hash=prompt_hash(m["content"] for m in r.conversation_a if m["role"] == "user"),
                                  transcript=freeze(r.conversation_a, r.conversation_b), moderation_flag=r.moderation_flag,
                                  **vote_columns(f)))
                for category in categories_of(f, self.long_prompt_tokens):
                    increments[(category, f.model_a, f.model_b, f.winner)] += 1
            for table, rows in ((Battle, battles), (Conversation, conversations), (Message, messages), (Vote, votes)):
                if rows:
                    session.execute(insert_into(table), rows)
            self._bump_counts(session, increments)
        return len(fresh), len(records) - len(fresh)

    def _judge_ids(self, session: Session, hashes: set[str]) -> dict[str, int]:
        """Ids for judge hashes, creating the missing ones."""
        if not hashes:
            return {}
        found = {h: i for h, i in session.execute(select(Judge.judge_hash, Judge.id).where(Judge.judge_hash.in_(hashes)))}
        for judge_hash in sorted(hashes - set(found)):
            found[judge_hash] = self._judge_id(session, judge_hash)
        return found

    def _counts_missing(self) -> bool:
        with self.session() as session:
            has_votes = session.scalar(select(Vote.id).limit(1)) is not None
            has_counts = session.scalar(select(VoteCount.n).limit(1)) is not None
        return has_votes and not has_counts

    def vote_for(self, battle_id: str) -> str | None:
        with self.session() as session:
            return session.scalar(select(Vote.winner).where(Vote.battle_id == battle_id))

    # --- reads for ratings ------------------------------------------------------
    def outcome_counts(self, category: str = DEFAULT_CATEGORY) -> list[OutcomeCount]:
        """Votes of *category* aggregated by (model_a, model_b, winner): a few rows per model pair."""
        category_filter(category, self.long_prompt_tokens)  # raises UnknownCategory early
        query = select(VoteCount.model_a, VoteCount.model_b, VoteCount.winner, VoteCount.n).where(VoteCount.category == category)
        with self.session() as session:
            return [OutcomeCount(a, b, w, n) for a, b, w, n in session.execute(query)]

    def outcome_counts_capped(self, category: str, daily_cap: int) -> list[OutcomeCount]:
        """Like :meth:`outcome_counts`, keeping only each judge's first *daily_cap* votes per day (one SQL pass)."""
        ranked = (
            select(
                Vote.model_a, Vote.model_b, Vote.winner,
                func.row_number().over(partition_by=(Vote.judge_id, func.date(Vote.created_at)), order_by=Vote.id).label("nth"),
            )
            .where(category_filter(category, self.long_prompt_tokens))
            .subquery()
        )
        query = (
            select(ranked.c.model_a, ranked.c.model_b, ranked.c.winner, func.count())
            .where(ranked.c.nth <= daily_cap)
            .group_by(ranked.c.model_a, ranked.c.model_b, ranked.c.winner)
        )
        with self.session() as session:
            return [OutcomeCount(a, b, w, n) for a, b, w, n in session.execute(query)]

    def outcome_columns(self, category: str = DEFAULT_CATEGORY) -> dict[str, np.ndarray]:
        """The counts of :meth:`outcome_counts` as columns (model_a, model_b, winner, n): the fast path."""
        category_filter(category, self.long_prompt_tokens)
        query = select(VoteCount.model_a, VoteCount.model_b, VoteCount.winner, VoteCount.n).where(VoteCount.category == category)
        return read_columns(self.engine, query, ["model_a", "model_b", "winner", "n"])

    def load_elo(self, category: str) -> tuple[int, dict[str, float]]:
        """Saved online-Elo state of *category*: (last vote id folded in, ratings)."""
        with self.session() as session:
            saved = session.get(ArenaMeta, f"elo:{category}")
        if saved is None:
            return 0, {}
        state = json.loads(saved.value)
        return int(state["last_vote_id"]), {k: float(v) for k, v in state["ratings"].items()}

    def save_elo(self, category: str, last_vote_id: int, ratings: dict[str, float]) -> None:
        """Persist online-Elo state (never moving it backwards), so a restart folds in only new votes."""
        key = f"elo:{category}"
        value = json.dumps({"last_vote_id": last_vote_id, "ratings": ratings})
        with self.writing() as session:
            saved = session.get(ArenaMeta, key, with_for_update=True)
            if saved is None:
                session.add(ArenaMeta(key=key, value=value))
            elif json.loads(saved.value)["last_vote_id"] < last_vote_id:
                saved.value = value

    @property
    def commits_in_id_order(self) -> bool:
        """True when a reader that sees vote id V already sees every vote with a smaller id.

        SQLite has one writer at a time and assigns the id inside the write
        transaction, so ids appear in commit order. On PostgreSQL a sequence
        hands out ids before commit, and a vote with a smaller id can become
        visible after one with a larger id.
        """
        return self.engine.dialect.name == "sqlite"

    def category_total(self, category: str) -> int:
        """Votes counted in *category* (the sum of its pair counts)."""
        with self.session() as session:
            return int(session.scalar(select(func.coalesce(func.sum(VoteCount.n), 0)).where(VoteCount.category == category)))

    def categories(self) -> list[str]:
        """Categories that have votes, in display order (fixed ones first, then languages)."""
        with self.session() as session:
            present = set(session.scalars(select(VoteCount.category).distinct()))
        fixed = [c for c in CATEGORIES if c in present]
        return fixed + sorted(present - set(fixed))

    def votes_version(self) -> int:
        """Grows with every new vote (the newest vote id); cheap, for cache invalidation."""
        with self.session() as session:
            return session.scalar(select(func.max(Vote.id))) or 0

    def vote_columns_for(self, category: str, columns: list[str], *, after_id: int = 0, created_before: datetime | None = None,
                         chunk: int = 200_000) -> dict[str, np.ndarray]:
        """Selected per-vote columns of *category* (id > *after_id*, older than *created_before*), in vote order.

        Numbers come back as numpy arrays and strings as :class:`~arena.coded.Coded`
        (see :func:`~arena.columnar.read_columns`).
        """
        query = (
            select(*[getattr(Vote, name) for name in columns])
            .where(category_filter(category, self.long_prompt_tokens), Vote.id > after_id)
            .order_by(Vote.id)
        )
        if created_before is not None:
            query = query.where(Vote.created_at < created_before)
        return read_columns(self.engine, query, columns, chunk=chunk)

    def vote_arrays(self, category: str, *, style: bool = False, after_id: int = 0,
                    created_before: datetime | None = None) -> VoteArrays:
        """The votes of *category* with ``id > after_id`` as arrays (codes, scores, optional style counts), in vote order."""
        return read_vote_arrays(self.engine, category_filter(category, self.long_prompt_tokens),
                                models=lambda: self.category_models(category), style=style, after_id=after_id,
                                created_before=created_before)

    def category_models(self, category: str) -> list[str]:
        """Models with votes in *category*, from its pair counts (sorted)."""
        with self.session() as session:
            pairs = session.execute(select(VoteCount.model_a, VoteCount.model_b).where(VoteCount.category == category).distinct())
            return sorted({name for pair in pairs for name in pair})

    def battle_row(self, battle_id: str) -> Battle | None:
        with self.session() as session:
            return session.get(Battle, battle_id)

    def transcript(self, conversation_id: str, *, include_superseded: bool = False) -> list[Message]:
        with self.session() as session:
            query = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.position)
            if not include_superseded:
                query = query.where(Message.superseded.is_(False))
            return list(session.scalars(query))


def vote_columns(facts: VoteFacts) -> dict:
    """The ``votes`` columns that hold a vote's facts."""
    # Clamped so the packed per-vote read (arena.vote_arrays) can rely on each value's bit width.
    (len_a, headers_a, lists_a, bold_a), (len_b, headers_b, lists_b, bold_b) = (
        [min(max(int(value), 0), limit) for value, limit in zip(side, STYLE_LIMITS)] for side in (facts.style_a, facts.style_b)
    )
    return dict(
        winner=facts.winner, model_a=facts.model_a, model_b=facts.model_b, mode=facts.mode,
        leak_flag=facts.leak_flag, error_flag=facts.error_flag, turns=facts.turns, user_tokens=facts.user_tokens,
        language=facts.language, len_a=len_a, len_b=len_b, headers_a=headers_a, headers_b=headers_b,
        lists_a=lists_a, lists_b=lists_b, bold_a=bold_a, bold_b=bold_b,
    )


def _message_row(conversation_id: str, position: int, turn: int, role: str, content: str, created_at: datetime,
                 **stats: object) -> dict:
    """One ``messages`` row for a bulk insert; every row carries every column (an executemany needs equal keys)."""
    row = dict.fromkeys(("finish_reason", "prompt_tokens", "completion_tokens", "first_token_s", "duration_s",
                         "error_kind", "error_detail"))
    row.update(stats)
    row.update(conversation_id=conversation_id, position=position, turn=turn, role=role, content=content,
               superseded=False, created_at=created_at)
    return row


def _usage(battle: domain.Battle) -> dict:
    usage = {}
    for name, side in battle.sides.items():
        usage[name] = {
            "prompt_tokens": sum(s.prompt_tokens or 0 for s in side.stats),
            "completion_tokens": sum(s.completion_tokens or 0 for s in side.stats),
            "first_token_s": [s.first_token_s for s in side.stats],
            "duration_s": [s.duration_s for s in side.stats],
            "finish_reasons": [s.finish_reason for s in side.stats],
        }
    return usage
