"""Persistence of battles, transcripts and votes (SQLAlchemy 2; SQLite or PostgreSQL).

Every write is one short transaction; a vote is acknowledged only after its
transaction commits, and the unique key on ``votes.battle_id`` makes a second
vote for the same battle impossible whichever instance receives it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from arena import battle as domain
from arena.tables import ArenaMeta, Battle, Conversation, Judge, Message, Vote

log = logging.getLogger(__name__)

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


class Store:
    """The arena's database: one instance per process, shared by all sessions."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            upgrade_schema(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._salt: str | None = None

    def session(self) -> Session:
        return self._sessions()

    def close(self) -> None:
        self.engine.dispose()

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
        found = session.scalar(select(Judge.id).where(Judge.judge_hash == judge_hash))
        if found is not None:
            return found
        try:
            with session.begin_nested():
                judge = Judge(judge_hash=judge_hash, created_at=utcnow())
                session.add(judge)
            return judge.id
        except IntegrityError:
            found = session.scalar(select(Judge.id).where(Judge.judge_hash == judge_hash))
            assert found is not None
            return found

    # --- battles and conversations ------------------------------------------
    def save_start(self, battle: domain.Battle) -> None:
        """Insert the battle (or direct chat) and its conversations, once."""
        if battle.persisted:
            return
        now = utcnow()
        with self.session() as session, session.begin():
            judge_id = self._judge_id(session, battle.judge_hash)
            if battle.mode != "direct":
                session.add(
                    Battle(
                        id=battle.id,
                        mode=battle.mode,
                        model_a=battle.sides["a"].model,
                        model_b=battle.sides["b"].model,
                        judge_id=judge_id,
                        status="chatting",
                        turns=0,
                        leak_flag=False,
                        leak_terms=[],
                        error_flag=False,
                        usage={},
                        created_at=now,
                        updated_at=now,
                    )
                )
                session.flush()
            for side_name, side in battle.sides.items():
                session.add(
                    Conversation(
                        id=side.conversation_id,
                        battle_id=battle.id if battle.mode != "direct" else None,
                        side=side_name if battle.mode != "direct" else None,
                        mode=battle.mode,
                        model=side.model,
                        system_prompt=side.system_prompt,
                        judge_id=judge_id,
                        created_at=now,
                    )
                )
        battle.persisted = True

    def save_turn(self, battle: domain.Battle, *, regenerated: bool) -> None:
        """Store the newest user turn and answers (and mark replaced answers on regenerate)."""
        now = utcnow()
        with self.session() as session, session.begin():
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
                    session.add(
                        Message(
                            conversation_id=side.conversation_id, position=next_position, turn=battle.turns,
                            role="user", content=side.messages[-2]["content"], created_at=now,
                        )
                    )
                    next_position += 1
                stats = side.stats[-1] if side.stats else None
                session.add(
                    Message(
                        conversation_id=side.conversation_id,
                        position=next_position,
                        turn=battle.turns,
                        role="assistant",
                        content=side.messages[-1]["content"],
                        finish_reason=stats.finish_reason if stats else None,
                        prompt_tokens=stats.prompt_tokens if stats else None,
                        completion_tokens=stats.completion_tokens if stats else None,
                        first_token_s=stats.first_token_s if stats else None,
                        duration_s=stats.duration_s if stats else None,
                        error_kind=side.error_kind,
                        error_detail=side.error_detail,
                        created_at=now,
                    )
                )
            if battle.mode != "direct":
                errors = [f"{n}: {s.error_kind}: {s.error_detail}" for n, s in battle.sides.items() if s.status == "error"]
                values: dict = dict(
                    turns=battle.turns,
                    leak_flag=battle.leaked,
                    leak_terms=sorted(battle.leak_terms),
                    usage=_usage(battle),
                    updated_at=now,
                )
                if battle.ever_failed:
                    values.update(status="failed", error_flag=True)
                if errors:
                    values["error_detail"] = "\n".join(errors)
                session.execute(update(Battle).where(Battle.id == battle.id).values(**values))

    # --- votes ---------------------------------------------------------------
    def record_vote(self, battle_id: str, winner: str, judge_hash: str, time_to_vote_s: float) -> None:
        """Insert the vote and close the battle in one transaction; raise :class:`VoteConflict` on a second vote."""
        try:
            with self.session() as session, session.begin():
                judge_id = self._judge_id(session, judge_hash)
                session.add(
                    Vote(battle_id=battle_id, winner=winner, judge_id=judge_id, time_to_vote_s=time_to_vote_s, created_at=utcnow())
                )
                session.flush()
                session.execute(update(Battle).where(Battle.id == battle_id).values(status="voted", updated_at=utcnow()))
        except IntegrityError:
            existing = self.vote_for(battle_id)
            if existing is None:
                raise
            raise VoteConflict(existing) from None

    def vote_for(self, battle_id: str) -> str | None:
        with self.session() as session:
            return session.scalar(select(Vote.winner).where(Vote.battle_id == battle_id))

    # --- reads for ratings ------------------------------------------------------
    def outcome_counts(self, *, anonymous_only: bool = True, exclude_flagged: bool = True) -> list[OutcomeCount]:
        """Votes aggregated by (model_a, model_b, winner) in the database, not row by row."""
        query = (
            select(Battle.model_a, Battle.model_b, Vote.winner, func.count())
            .join(Vote, Vote.battle_id == Battle.id)
            .group_by(Battle.model_a, Battle.model_b, Vote.winner)
        )
        if anonymous_only:
            query = query.where(Battle.mode == "anony")
        if exclude_flagged:
            query = query.where(Battle.leak_flag.is_(False), Battle.error_flag.is_(False))
        with self.session() as session:
            return [OutcomeCount(a, b, w, n) for a, b, w, n in session.execute(query)]

    def battle_row(self, battle_id: str) -> Battle | None:
        with self.session() as session:
            return session.get(Battle, battle_id)

    def transcript(self, conversation_id: str, *, include_superseded: bool = False) -> list[Message]:
        with self.session() as session:
            query = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.position)
            if not include_superseded:
                query = query.where(Message.superseded.is_(False))
            return list(session.scalars(query))

    def iter_votes(self) -> Iterator[tuple[str, str, str]]:
        """(model_a, model_b, winner) in vote order, streamed (for online Elo)."""
        query = (
            select(Battle.model_a, Battle.model_b, Vote.winner)
            .join(Vote, Vote.battle_id == Battle.id)
            .where(Battle.mode == "anony", Battle.leak_flag.is_(False), Battle.error_flag.is_(False))
            .order_by(Vote.id)
        )
        with self.session() as session:
            yield from session.execute(query.execution_options(yield_per=10_000))


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
