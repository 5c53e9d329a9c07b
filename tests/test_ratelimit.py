"""Rate limits per judge: fixed windows in memory or in Redis (shared by instances); what happens when Redis is down."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from prometheus_client import REGISTRY

from arena.battle import RuleViolation
from arena.ratelimit import MemoryRateLimiter, RedisRateLimiter, build_rate_limiter
from arena.settings import Settings, SettingsError
from tests.helpers import make_arena, models_yaml, play
from tests.upstream import Upstream, free_port

REDIS_URL = os.environ.get("ARENA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_limiter_counts_per_key_and_window() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    assert [await limiter.allow("a", 3, 60) for _ in range(4)] == [True, True, True, False]
    assert await limiter.allow("b", 3, 60)  # another judge has its own count
    clock.now += 60
    assert await limiter.allow("a", 3, 60)  # a new window


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("ARENA_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis required (ARENA_REQUIRE_REDIS=1) but unreachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}")
    return REDIS_URL


async def test_redis_limiter_is_shared_by_instances(redis_url: str) -> None:
    """Two limiters (two app instances) on one Redis enforce one limit together."""
    clock, prefix = Clock(), f"arena-test-{uuid.uuid4().hex}:"
    one, two = RedisRateLimiter(redis_url, prefix=prefix, clock=clock), RedisRateLimiter(redis_url, prefix=prefix, clock=clock)
    assert [await limiter.allow("judge", 4, 60) for limiter in (one, two, one, two)] == [True] * 4
    assert not await one.allow("judge", 4, 60) and not await two.allow("judge", 4, 60)
    clock.now += 60
    assert await two.allow("judge", 4, 60)
    assert isinstance(build_rate_limiter(redis_url), RedisRateLimiter) and isinstance(build_rate_limiter(""), MemoryRateLimiter)
    await one.aclose()
    await two.aclose()


@pytest.mark.parametrize(("policy", "expected"), [
    ("memory", [True, True, False, False]),  # the limit of 2 still holds, counted in this process
    ("open", [True, True, True, True]),
    ("closed", [False, False, False, False]),
])
async def test_unreachable_redis_follows_the_configured_policy(policy: str, expected: list[bool]) -> None:
    before = REGISTRY.get_sample_value("arena_rate_limit_redis_down_total", {"policy": policy}) or 0.0
    limiter = RedisRateLimiter("redis://127.0.0.1:9/0", on_down=policy)  # type: ignore[arg-type]
    assert [await limiter.allow("judge", 2, 60) for _ in range(4)] == expected
    assert REGISTRY.get_sample_value("arena_rate_limit_redis_down_total", {"policy": policy}) == before + 4


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="memory, open, closed"):
        RedisRateLimiter("redis://127.0.0.1:9/0", on_down="ajar")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="ARENA_RATE_LIMIT_ON_REDIS_DOWN='ajar': use memory, open or closed"):
        Settings.from_env({"ARENA_RATE_LIMIT_ON_REDIS_DOWN": "ajar"})


def test_service_refuses_prompts_and_votes_beyond_the_limit(tmp_path: Path, sqlite_url: str, up: Upstream, up2: Upstream) -> None:
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), sqlite_url, prompts_per_minute=2, votes_per_minute=1)

    async def scenario() -> None:
        battle = await arena.start("anony", session_id="s", judge_hash="judge-x")
        await play(arena, battle.id, "one", session="s")
        await play(arena, battle.id, "two", session="s")
        with pytest.raises(RuleViolation, match="Too many prompts"):
            await play(arena, battle.id, "three", session="s")
        await arena.vote(battle.id, "model_a", "s")
        other = await arena.start("anony", session_id="s2", judge_hash="judge-y")  # another judge has its own budget
        await play(arena, other.id, "hello", session="s2")
        await arena.vote(other.id, "model_b", "s2")
        arena.guards.limiter = MemoryRateLimiter()  # a fresh minute for prompts; judge-x's vote budget is then used up below
        again = await arena.start("anony", session_id="s3", judge_hash="judge-x")
        await play(arena, again.id, "again", session="s3")
        await arena.guards.limiter.allow("vote:minute:judge-x", 1, 60)
        with pytest.raises(RuleViolation, match="Too many votes"):
            await arena.vote(again.id, "model_b", "s3")

    try:
        asyncio.run(scenario())
    finally:
        arena.store.close()


def test_battles_per_hour_and_votes_per_day(tmp_path: Path, sqlite_url: str, up: Upstream, up2: Upstream) -> None:
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), sqlite_url, battles_per_hour=2, votes_per_day=1)
    clock = Clock()
    arena.guards.limiter = MemoryRateLimiter(clock)

    async def scenario() -> None:
        first = await arena.start("anony", session_id="s", judge_hash="judge-h")
        await arena.start("named", session_id="s", judge_hash="judge-h", models=["Alpha-Model", "Beta-Model"])
        with pytest.raises(RuleViolation, match="Too many battles in one hour .at most 2.; please come back later"):
            await arena.start("anony", session_id="s", judge_hash="judge-h")
        await arena.start("direct", session_id="s", judge_hash="judge-h", models=["Alpha-Model"])  # chats are not battles
        await play(arena, first.id, "hi", session="s")
        await arena.vote(first.id, "tie", "s")
        clock.now += 3600  # the next hour: battles again, but still the same day for votes
        second = await arena.start("anony", session_id="s", judge_hash="judge-h")
        await play(arena, second.id, "hi", session="s")
        with pytest.raises(RuleViolation, match="Too many votes in one day"):
            await arena.vote(second.id, "tie", "s")
        assert second.can_vote  # refused, not spent: it can be cast tomorrow

    try:
        asyncio.run(scenario())
    finally:
        arena.store.close()


def test_hourly_battle_limit_is_shared_through_redis(tmp_path: Path, sqlite_url: str, redis_url: str, up: Upstream, up2: Upstream) -> None:
    """Two instances (two Arenas, one Redis) let a judge start only the hourly number of battles between them."""
    prefix = f"arena-test-{uuid.uuid4().hex}:"
    arenas = [make_arena(tmp_path / name, models_yaml(up.url, up2.url), sqlite_url, battles_per_hour=3)
              for name in ("one", "two") if (tmp_path / name).mkdir() is None]
    for arena in arenas:
        arena.guards.limiter = RedisRateLimiter(redis_url, prefix=prefix)
    started, refused = 0, 0

    async def scenario() -> None:
        nonlocal started, refused
        for i in range(6):
            try:
                await arenas[i % 2].start("anony", session_id=f"s{i}", judge_hash="judge-shared")
                started += 1
            except RuleViolation:
                refused += 1

    asyncio.run(scenario())
    assert (started, refused) == (3, 3)
    for arena in arenas:
        arena.store.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis server of this test's own (it will be stalled with DEBUG SLEEP), on a free port of 127.0.0.1."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("ARENA_REQUIRE_REDIS") == "1":
            pytest.fail("Redis required (ARENA_REQUIRE_REDIS=1) but redis-server is not installed")
        pytest.skip("redis-server not installed")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--enable-debug-command", "local", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
                break
            except redis.RedisError:
                assert time.monotonic() < deadline and process.poll() is None, "redis-server did not start"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_stalled_redis_holds_up_only_the_event_it_checks(tmp_path: Path, sqlite_url: str, own_redis: str, up: Upstream,
                                                           up2: Upstream) -> None:
    """While Redis sleeps 2 s inside one session's prompt check, the event loop keeps serving everyone else."""
    import redis

    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), sqlite_url, redis_url=own_redis, prompts_per_minute=5)
    stalled = threading.Event()

    def stall() -> None:
        client = redis.Redis.from_url(own_redis)
        stalled.set()
        client.execute_command("DEBUG", "SLEEP", "2")

    async def scenario() -> tuple[float, float, float, bool]:
        loop = asyncio.get_running_loop()
        waiting = await arena.start("anony", session_id="a", judge_hash="judge-a")
        gaps: list[float] = []

        async def tick() -> None:
            last = loop.time()
            while True:
                await asyncio.sleep(0.005)
                gaps.append(loop.time() - last)
                last = loop.time()

        ticker = asyncio.create_task(tick())
        sleeper = threading.Thread(target=stall)
        sleeper.start()
        stalled.wait()
        await asyncio.sleep(0.05)  # Redis is asleep by now
        began = loop.time()
        sending = asyncio.create_task(play(arena, waiting.id, "hello", session="a"))
        other = loop.time()
        await asyncio.sleep(0.01)  # session a is waiting for Redis now
        chat = await arena.start("direct", session_id="b", judge_hash="judge-b", models=["Alpha-Model"])  # another session's event
        other_took = loop.time() - other
        battle, _ = await sending
        sent_took = loop.time() - began
        ticker.cancel()
        sleeper.join()
        return other_took, max(gaps), sent_took, battle.state == "awaiting_vote" and chat.mode == "direct"

    gc.collect()
    gc.disable()  # a full collection of this test process's big heap would stall the loop too; not this test's subject
    try:
        other_took, worst_gap, sent_took, served = asyncio.run(scenario())
    finally:
        gc.enable()
        arena.store.close()
    assert served  # the stalled prompt was answered (the default policy: this process counted it)
    assert other_took < 0.1, f"another session's event took {other_took * 1000:.0f} ms while Redis slept"
    assert worst_gap < 0.1, f"the event loop stood still for {worst_gap * 1000:.0f} ms"
    assert sent_took < 1.9  # the stalled check gave up on its own timeout, not when Redis woke up
