"""The database connection itself: engines, the writers' turn, schema upgrades, the dialect's upsert.

Everything here is about *how* the store talks to SQLite or PostgreSQL,
nothing about what it stores; the entity modules beside it build on this.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ContextManager

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from arena.write_turn import WriteTurn

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "db" / "migrations"


def utcnow() -> datetime:
    """The time stored rows are stamped with (always timezone-aware UTC)."""
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


def upsert_for(session: Session) -> Any:  # sqlalchemy's dialect-specific insert(), typed per dialect
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
    # Imported here: alembic.command costs 0.1-0.2 s, and export workers and tools open stores with migrate=False.
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


def ping_database(*, engine: Engine) -> None:
    """One round trip to the database (``SELECT 1``); raises if it does not answer (the health route)."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def commits_in_id_order(*, engine: Engine) -> bool:
    """True when a reader that sees vote id V already sees every vote with a smaller id.

    SQLite has one writer at a time and assigns the id inside the write
    transaction, so ids appear in commit order. On PostgreSQL a sequence
    hands out ids before commit, and a vote with a smaller id can become
    visible after one with a larger id.
    """
    return engine.dialect.name == "sqlite"
