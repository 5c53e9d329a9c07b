"""The store on SQLite and PostgreSQL: round trips, one vote per battle, hashed judges, aggregation."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import inspect, select, text

from arena.backends.base import GenerationStats
from arena.battle import Battle, Limits
from arena.service import vote_facts
from arena.store import Store, VoteConflict
from arena.tables import Judge, Message
from tests.helpers import played

LIMITS = Limits()


def test_schema_is_migrated(store: Store) -> None:
    """Alembic created every table and stamped the revision."""
    names = set(inspect(store.engine).get_table_names())
    assert {"judges", "battles", "conversations", "messages", "votes", "arena_meta", "alembic_version"} <= names


def test_battle_round_trip(store: Store) -> None:
    """A played battle is stored with both transcripts, usage and timings."""
    battle = played(store)
    row = store.battle_row(battle.id)
    assert row is not None and row.model_a == "m1" and row.model_b == "m2" and row.mode == "anony"
    assert row.turns == 1 and row.status == "chatting" and row.usage["a"]["completion_tokens"] == 2
    transcript = store.transcript(battle.sides["b"].conversation_id)
    assert [(m.role, m.content) for m in transcript] == [("user", "What is 2+2?"), ("assistant", "B!")]
    assert transcript[1].finish_reason == "stop" and transcript[1].first_token_s == pytest.approx(0.1)


def test_regenerate_keeps_the_old_answer_as_superseded(store: Store) -> None:
    """Nothing is lost on regenerate: the replaced answer stays, marked superseded."""
    battle = played(store)
    battle.begin_regenerate()
    for name in battle.sides:
        battle.append(name, "again")
        battle.finish_side(name, GenerationStats(finish_reason="stop"))
    store.save_turn(battle, regenerated=True)
    current = store.transcript(battle.sides["a"].conversation_id)
    everything = store.transcript(battle.sides["a"].conversation_id, include_superseded=True)
    assert [m.content for m in current] == ["What is 2+2?", "again"]
    assert [m.content for m in everything] == ["What is 2+2?", "A!", "again"]


def test_vote_is_stored_once(store: Store) -> None:
    """The second vote on a battle is refused by the database and reports the first."""
    battle = played(store)
    store.record_vote(battle.id, vote_facts(battle, "model_a"), battle.judge_hash, 2.5)
    with pytest.raises(VoteConflict) as info:
        store.record_vote(battle.id, vote_facts(battle, "model_b"), battle.judge_hash, 3.0)
    assert info.value.winner == "model_a"
    assert store.vote_for(battle.id) == "model_a"
    assert store.battle_row(battle.id).status == "voted"


def test_concurrent_votes_leave_exactly_one(store: Store) -> None:
    """Eight threads voting on one battle at once: exactly one vote lands, the rest conflict."""
    battle = played(store)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def vote(winner: str) -> None:
        barrier.wait()
        try:
            store.record_vote(battle.id, vote_facts(battle, winner), battle.judge_hash, 1.0)
            outcomes.append("ok")
        except VoteConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=vote, args=("model_a" if i % 2 else "model_b",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 7
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM votes")).scalar() == 1


def test_writes_of_one_process_take_turns_on_sqlite(store: Store) -> None:
    """On SQLite a second writer waits for the first in the store, not in SQLite's busy handler; PostgreSQL's overlap.

    Why: SQLite's busy handler sleeps in steps of up to 100 ms, so a writer that
    met the file lock often slept long after it was free (``bench/votes.py --threads``).
    """
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with store.writing():
            order.append("first in")
            inside.set()
            release.wait(10)
            order.append("first out")

    def second() -> None:
        inside.wait(10)
        with store.writing():
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    inside.wait(10)
    threads[1].join(0.3)  # time for the second writer to get in, if it may
    release.set()
    for t in threads:
        t.join()
    if store.engine.dialect.name == "sqlite":
        assert order == ["first in", "first out", "second in"]
    else:
        assert order == ["first in", "second in", "first out"]  # no needless queue where rows, not the file, are locked


def test_judges_are_salted_hashes(store: Store) -> None:
    """The raw client address never reaches the database; the same address maps to one judge."""
    played(store, judge="203.0.113.9")
    played(store, judge="203.0.113.9")
    with store.session() as session:
        hashes = list(session.scalars(select(Judge.judge_hash)))
    assert len(hashes) == 1 and "203.0.113.9" not in hashes[0] and len(hashes[0]) == 64
    with store.engine.connect() as conn:
        for table in ("judges", "battles", "conversations", "messages", "votes"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).fetchall()
            assert "203.0.113.9" not in repr(rows)


def test_a_judges_id_is_asked_of_the_database_once_it_is_committed(store: Store) -> None:
    """Judge ids are remembered once seen committed; one from a transaction that rolled back never is."""
    judge = store.hash_judge("198.51.100.7")
    with pytest.raises(RuntimeError), store.writing() as session:  # created, then rolled back
        store._judge_id(session, judge)
        raise RuntimeError("the transaction fails after creating the judge")
    assert judge not in store._known_judges
    with store.session() as session:  # nor stored: the judge's insert rolled back with the rest
        assert session.scalar(select(Judge.id).where(Judge.judge_hash == judge)) is None
    first = played(store, judge="198.51.100.7")  # creates it for good (not remembered: created by that transaction)
    with store.session() as session:
        stored = session.scalar(select(Judge.id).where(Judge.judge_hash == judge))
    assert stored is not None and store._known_judges.get(judge) is None
    asked: list[str] = []
    listen = lambda *args: asked.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    from sqlalchemy import event

    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        played(store, judge="198.51.100.7")  # found committed: remembered
        assert store._known_judges[judge] == stored
        asked.clear()
        store.record_vote(first.id, vote_facts(first, "tie"), judge, 2.0)
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)
    assert not any("FROM judges" in statement for statement in asked), asked
    with store.session() as session:
        assert session.scalar(text("SELECT judge_id FROM votes")) == stored


def test_salt_is_shared_through_the_database(database_url: str) -> None:
    """Two store instances (two app processes) agree on the judge salt."""
    first, second = Store(database_url), Store(database_url)
    assert first.judge_salt() == second.judge_salt() and len(first.judge_salt()) == 64
    assert first.hash_judge("x") == second.hash_judge("x")
    first.close()
    second.close()


def test_outcome_counts_aggregate_and_filter(store: Store) -> None:
    """Counts are grouped in SQL; named and flagged battles are left out of the default."""
    for winner in ("model_a", "model_a", "tie"):
        b = played(store)
        store.record_vote(b.id, vote_facts(b, winner), b.judge_hash, 1.0)
    named = played(store, mode="named")
    store.record_vote(named.id, vote_facts(named, "model_b"), named.judge_hash, 1.0)
    leaked = played(store)
    leaked.flag_leak({"m1"})
    store.save_turn(leaked, regenerated=True)
    store.record_vote(leaked.id, vote_facts(leaked, "model_b"), leaked.judge_hash, 1.0)
    counts = {(c.model_a, c.model_b, c.winner): c.count for c in store.outcome_counts()}
    assert counts == {("m1", "m2", "model_a"): 2, ("m1", "m2", "tie"): 1}
    assert sum(c.count for c in store.outcome_counts("anonymous")) == 4
    assert sum(c.count for c in store.outcome_counts("all")) == 4


def test_failed_battle_is_flagged(store: Store) -> None:
    """A side failure is stored with its detail and flags the battle."""
    battle = Battle.start("anony", ["m1", "m2"], session_id="s", judge_hash=store.hash_judge("j"))
    battle.begin_turn("hi", LIMITS)
    store.save_start(battle)
    battle.fail_side("a", "http", "http://secret-endpoint/v1: HTTP 500", GenerationStats())
    battle.append("b", "ok")
    battle.finish_side("b", GenerationStats())
    store.save_turn(battle, regenerated=False)
    row = store.battle_row(battle.id)
    assert row.status == "failed" and row.error_flag and "HTTP 500" in row.error_detail
    with store.session() as session:
        kinds = list(session.scalars(select(Message.error_kind).where(Message.role == "assistant")))
    assert sorted(k for k in kinds if k) == ["http"]


def test_direct_chat_is_a_conversation_without_battle(store: Store) -> None:
    """Direct chats are stored as conversations and never as battles."""
    chat = Battle.start("direct", ["m1"], session_id="s", judge_hash=store.hash_judge("j"))
    chat.begin_turn("hello", LIMITS)
    store.save_start(chat)
    chat.append("a", "hi!")
    chat.finish_side("a", GenerationStats())
    store.save_turn(chat, regenerated=False)
    assert store.battle_row(chat.id) is None
    assert [m.content for m in store.transcript(chat.sides["a"].conversation_id)] == ["hello", "hi!"]


def test_migrations_are_idempotent(database_url: str) -> None:
    """Starting twice (or two instances) does not re-run or break migrations."""
    Store(database_url).close()
    again = Store(database_url)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from arena.store import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    with again.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    again.close()


def test_migrations_match_the_orm(database_url: str) -> None:
    """The Alembic history produces exactly the schema the ORM declares (no forgotten migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from arena.tables import Base

    store = Store(database_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    store.close()
    assert diff == []


def test_upgrade_backfills_prompt_hash_snapshot_and_moderation(database_url: str) -> None:
    """A store at revision 0002 with a voted battle gets the facts later migrations add, computed from its messages."""
    from alembic import command
    from alembic.config import Config

    from arena.prompts import prompt_hash
    from arena.store import MIGRATIONS_DIR, make_engine

    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    when = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(text(f"INSERT INTO judges (id, judge_hash, created_at) VALUES (1, 'j', '{when}')"))
        conn.execute(text("INSERT INTO battles (id, mode, model_a, model_b, judge_id, status, turns, leak_flag, leak_terms, error_flag,"
                          f" usage, created_at, updated_at) VALUES ('b1', 'anony', 'x', 'y', 1, 'voted', 1, false, '[]', false, '{{}}',"
                          f" '{when}', '{when}')"))
        for side, answer, reason in (("a", "X says", "stop"), ("b", "Y says", "length")):
            conn.execute(text("INSERT INTO conversations (id, battle_id, side, mode, model, system_prompt, judge_id, created_at)"
                              f" VALUES ('c{side}', 'b1', '{side}', 'anony', 'x', NULL, 1, '{when}')"))
            for position, (role, content, finish) in enumerate((("user", "Hello  There", None), ("assistant", answer, reason))):
                conn.execute(text("INSERT INTO messages (conversation_id, position, turn, role, content, superseded, finish_reason,"
                                  f" created_at) VALUES ('c{side}', {position}, 1, '{role}', '{content}', false,"
                                  f" {'NULL' if finish is None else repr(finish)}, '{when}')"))
        conn.execute(text("INSERT INTO votes (battle_id, winner, judge_id, time_to_vote_s, created_at, model_a, model_b)"
                          f" VALUES ('b1', 'model_a', 1, 2.0, '{when}', 'x', 'y')"))
    engine.dispose()
    store = Store(database_url)  # migrates to the head
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT prompt_hash, transcript, moderation_flag FROM votes WHERE battle_id = 'b1'")).one()
    store.close()
    assert row[0] == prompt_hash(["hello there"])
    snapshot = json.loads(row[1])
    assert snapshot["p"] == [{"role": "user", "content": "Hello  There"}]
    assert snapshot["a"] == [{"role": "assistant", "content": "X says"}] and snapshot["u"] is True  # side b hit the length limit
    assert not row[2]
