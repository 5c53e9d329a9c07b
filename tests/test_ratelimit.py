"""Rate limits per judge: fixed windows in memory or in Redis (shared by instances), failing open without Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from arena.battle import RuleViolation
from arena.ratelimit import MemoryRateLimiter, RedisRateLimiter, build_rate_limiter
from tests.helpers import make_arena, play
from tests.test_service import models_yaml
from tests.upstream import Upstream

REDIS_URL = os.environ.get("ARENA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_counts_per_key_and_window() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    assert [limiter.allow("a", 3, 60) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", 3, 60)  # another judge has its own count
    clock.now += 60
    assert limiter.allow("a", 3, 60)  # a new window


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


def test_redis_limiter_is_shared_by_instances(redis_url: str) -> None:
    """Two limiters (two app instances) on one Redis enforce one limit together."""
    clock, prefix = Clock(), f"arena-test-{uuid.uuid4().hex}:"
    one, two = RedisRateLimiter(redis_url, prefix=prefix, clock=clock), RedisRateLimiter(redis_url, prefix=prefix, clock=clock)
    assert [one.allow("judge", 4, 60), two.allow("judge", 4, 60), one.allow("judge", 4, 60), two.allow("judge", 4, 60)] == [True] * 4
    assert not one.allow("judge", 4, 60) and not two.allow("judge", 4, 60)
    clock.now += 60
    assert two.allow("judge", 4, 60)
    assert isinstance(build_rate_limiter(redis_url), RedisRateLimiter) and isinstance(build_rate_limiter(""), MemoryRateLimiter)


def test_unreachable_redis_fails_open() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:9/0")
    assert all(limiter.allow("judge", 1, 60) for _ in range(3))


def test_service_refuses_prompts_and_votes_beyond_the_limit(tmp_path: Path, sqlite_url: str, up: Upstream, up2: Upstream) -> None:
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), sqlite_url, prompts_per_minute=2, votes_per_minute=1)

    async def scenario() -> None:
        battle = arena.start("anony", session_id="s", judge_hash="judge-x")
        await play(arena, battle.id, "one", session="s")
        await play(arena, battle.id, "two", session="s")
        with pytest.raises(RuleViolation, match="Too many prompts"):
            await play(arena, battle.id, "three", session="s")
        await arena.vote(battle.id, "model_a", "s")
        other = arena.start("anony", session_id="s2", judge_hash="judge-y")  # another judge has its own budget
        await play(arena, other.id, "hello", session="s2")
        await arena.vote(other.id, "model_b", "s2")
        arena.limiter = MemoryRateLimiter()  # a fresh minute for prompts; judge-x's vote budget is then used up below
        again = arena.start("anony", session_id="s3", judge_hash="judge-x")
        await play(arena, again.id, "again", session="s3")
        arena.limiter.allow("vote:minute:judge-x", 1, 60)
        with pytest.raises(RuleViolation, match="Too many votes"):
            await arena.vote(again.id, "model_b", "s3")

    try:
        asyncio.run(scenario())
    finally:
        arena.store.close()


def test_battles_per_hour_and_votes_per_day(tmp_path: Path, sqlite_url: str, up: Upstream, up2: Upstream) -> None:
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), sqlite_url, battles_per_hour=2, votes_per_day=1)
    clock = Clock()
    arena.limiter = MemoryRateLimiter(clock)

    async def scenario() -> None:
        first = arena.start("anony", session_id="s", judge_hash="judge-h")
        arena.start("named", session_id="s", judge_hash="judge-h", models=["Alpha-Model", "Beta-Model"])
        with pytest.raises(RuleViolation, match="Too many battles in one hour .at most 2.; please come back later"):
            arena.start("anony", session_id="s", judge_hash="judge-h")
        arena.start("direct", session_id="s", judge_hash="judge-h", models=["Alpha-Model"])  # chats are not battles
        await play(arena, first.id, "hi", session="s")
        await arena.vote(first.id, "tie", "s")
        clock.now += 3600  # the next hour: battles again, but still the same day for votes
        second = arena.start("anony", session_id="s", judge_hash="judge-h")
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
        arena.limiter = RedisRateLimiter(redis_url, prefix=prefix)
    started, refused = 0, 0
    for i in range(6):
        try:
            arenas[i % 2].start("anony", session_id=f"s{i}", judge_hash="judge-shared")
            started += 1
        except RuleViolation:
            refused += 1
    assert (started, refused) == (3, 3)
    for arena in arenas:
        arena.store.close()
