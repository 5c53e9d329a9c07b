"""Faults of a real upstream, one side at a time: the pane errors within its timeout, the other side finishes,
the battle cannot be voted on, the failure is stored and counted, and the arena keeps serving."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from arena.battle import RuleViolation
from tests.helpers import make_arena, models_yaml, play, side_of
from tests.upstream import Behavior, Upstream

FIRST_TOKEN_TIMEOUT, TOTAL_TIMEOUT = 1.0, 2.5
REPLY = "A complete answer from the healthy side."

FAULTS = {  # name: (behaviour of the failing upstream, stored error kind, what the pane says)
    "killed mid-stream": (Behavior(reply="partial " * 20, chunks=20, token_delay_s=0.02, die_after=5), "interrupted", "broke mid-answer"),
    "stalled first token": (Behavior(stall_s=30.0), "first_token_timeout", "did not start answering in time"),
    "HTTP 500": (Behavior(status=500), "http", "returned an error"),
    "malformed event stream": (Behavior(reply="x" * 40, chunks=8, malformed_after=2), "protocol", "malformed answer"),
    "slow stream": (Behavior(reply="slow " * 100, chunks=100, token_delay_s=0.1), "timeout", "took too long"),
}


def errors_counted(model: str, kind: str) -> float:
    return REGISTRY.get_sample_value("arena_generation_errors_total", {"model": model, "kind": kind}) or 0.0


@pytest.mark.parametrize("fault", list(FAULTS))
def test_one_side_fails(fault: str, tmp_path: Path, database_url: str, up: Upstream, up2: Upstream) -> None:
    behaviour, kind, notice = FAULTS[fault]
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), database_url,
                       first_token_timeout=FIRST_TOKEN_TIMEOUT, total_timeout=TOTAL_TIMEOUT)
    up.behavior, up2.behavior = behaviour, Behavior(reply=REPLY, chunks=5, token_delay_s=0.05)
    counted_before = errors_counted("Alpha-Model", kind)

    async def scenario() -> None:  # one event loop for the whole test: the backends' clients belong to it
        battle = await arena.start("anony", session_id="s1", judge_hash="j")
        started = time.monotonic()
        battle, _ = await play(arena, battle.id, "hello")
        elapsed = time.monotonic() - started
        failed, healthy = side_of(battle, "Alpha-Model"), side_of(battle, "Beta-Model")
        assert battle.sides[failed].status == "error" and battle.sides[failed].error_kind == kind
        assert notice in battle.sides[failed].public_error
        assert elapsed < TOTAL_TIMEOUT + 2.0  # within the configured timeout, not whenever the upstream gives up
        assert battle.sides[healthy].status == "done" and battle.sides[healthy].last_answer == REPLY
        with pytest.raises(RuleViolation, match="cannot be voted"):
            await arena.vote(battle.id, "model_b", "s1")
        row = arena.store.battle_row(battle.id)
        assert row.status == "failed" and row.error_flag and kind in row.error_detail
        assert errors_counted("Alpha-Model", kind) == counted_before + 1

        up.behavior = Behavior(reply="Recovered.")  # the arena keeps serving: a new battle plays and is voted on
        for endpoint in arena.pool.backend("Alpha-Model").endpoints:
            endpoint.recovered()  # as the next successful probe would (5xx and stalls take an endpoint out of rotation)
        again = await arena.start("anony", session_id="s2", judge_hash="j2")
        again, _ = await play(arena, again.id, "hello again", session="s2")
        assert (await arena.vote(again.id, "tie", "s2")).winner == "tie"

    try:
        asyncio.run(scenario())
    finally:
        arena.store.close()


def test_database_failing_inside_the_vote_leaves_nothing_half_written(
    tmp_path: Path, database_url: str, up: Upstream, up2: Upstream
) -> None:
    """The vote row is written, then the count update fails (a trigger plays the failing disk): the voter is told
    to retry, no vote row survives, the battle is not closed; once the database works again the retry is stored once."""
    from sqlalchemy import text

    from arena.service import StoreUnavailable

    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), database_url)
    postgres = database_url.startswith("postgresql")
    if postgres:
        create = ["CREATE FUNCTION fail_counts() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql",
                  "CREATE TRIGGER fail_counts BEFORE INSERT OR UPDATE ON vote_counts FOR EACH ROW EXECUTE FUNCTION fail_counts()"]
        drop = ["DROP TRIGGER fail_counts ON vote_counts", "DROP FUNCTION fail_counts()"]
    else:
        create = ["CREATE TRIGGER fail_insert BEFORE INSERT ON vote_counts BEGIN SELECT RAISE(ABORT, 'disk full'); END",
                  "CREATE TRIGGER fail_update BEFORE UPDATE ON vote_counts BEGIN SELECT RAISE(ABORT, 'disk full'); END"]
        drop = ["DROP TRIGGER fail_insert", "DROP TRIGGER fail_update"]

    def run(statements: list[str]) -> None:
        with arena.store.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))

    def count(sql: str) -> int:
        with arena.store.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    async def scenario() -> None:
        battle = await arena.start("anony", session_id="s1", judge_hash="j")
        await play(arena, battle.id, "hello")
        run(create)
        with pytest.raises(StoreUnavailable, match="could not be saved.*press the button again"):
            await arena.vote(battle.id, "model_a", "s1")
        assert count("SELECT COUNT(*) FROM votes") == 0 and count("SELECT COUNT(*) FROM vote_counts") == 0
        assert battle.can_vote and arena.store.battle_row(battle.id).status != "voted"
        run(drop)
        receipt = await arena.vote(battle.id, "model_a", "s1")
        assert receipt.winner == "model_a" and count("SELECT COUNT(*) FROM votes") == 1

    try:
        asyncio.run(scenario())
    finally:
        arena.store.close()
