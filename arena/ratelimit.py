"""Rate limits per judge (prompts, regenerations, votes), shared by every instance through Redis.

With ``ARENA_REDIS_URL`` set, counters live in Redis, so several app
instances behind a load balancer enforce one limit together; otherwise they
live in this process's memory. Both count in fixed windows: at most *limit*
events per key in each window of *window_s* seconds.

Checks are coroutines: the Redis round trip runs on the event loop without
holding it (``redis.asyncio``), with a short timeout, so a slow Redis delays
only the event being checked, never every session of the process. When
Redis does not answer in time, ``ARENA_RATE_LIMIT_ON_REDIS_DOWN`` decides:

- ``memory`` (the default): this process counts on its own until Redis is
  back, so each instance still enforces the limits for its own voters;
- ``open``: the event is let through (no limit while Redis is down);
- ``closed``: the event is refused (no event while Redis is down).

Every such fallback is logged (at most once per outage) and counted in
``arena_rate_limit_redis_down_total``. After a failure Redis is left alone
for :data:`RETRY_AFTER_S` seconds, so an outage costs one timeout, not one
per event.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from typing import Any, Callable, Literal, Protocol

from arena import metrics

log = logging.getLogger(__name__)

RedisDownPolicy = Literal["memory", "open", "closed"]
REDIS_DOWN_POLICIES: tuple[RedisDownPolicy, ...] = ("memory", "open", "closed")
REDIS_TIMEOUT_S = 0.25  # a healthy Redis answers in well under a millisecond
RETRY_AFTER_S = 5.0


class RateLimiter(Protocol):
    async def allow(self, key: str, limit: int, window_s: float) -> bool:
        """Count one event for *key*; False once more than *limit* happened in the current window."""
        ...


class MemoryRateLimiter:
    """Per-process fixed-window counters (old windows are dropped as time moves on)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def allow_now(self, key: str, limit: int, window_s: float) -> bool:
        """The check itself, synchronous (no I/O)."""
        window = int(self._clock() // window_s)
        with self._lock:
            if len(self._counts) > 10_000:  # forget finished windows
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        return count <= limit

    async def allow(self, key: str, limit: int, window_s: float) -> bool:
        return self.allow_now(key, limit, window_s)


class RedisRateLimiter:
    """Fixed-window counters in Redis (``INCR`` + ``EXPIRE`` in one round trip), shared by all instances."""

    def __init__(
        self, url: str, *, prefix: str = "arena:rate:", clock: Callable[[], float] = time.time,
        on_down: RedisDownPolicy = "memory", timeout_s: float = REDIS_TIMEOUT_S,
    ) -> None:
        if on_down not in REDIS_DOWN_POLICIES:
            raise ValueError(f"on_down must be one of {', '.join(REDIS_DOWN_POLICIES)}, not {on_down!r}")
        self._url, self._prefix, self._clock = url, prefix, clock
        self._timeout_s = timeout_s
        self.on_down: RedisDownPolicy = on_down
        self.fallback = MemoryRateLimiter(clock)
        # A redis.asyncio client belongs to the event loop it first ran on: one per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._down_until = 0.0

    def _client(self) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(self._url, socket_timeout=self._timeout_s, socket_connect_timeout=self._timeout_s)
            self._clients[loop] = client
        return client

    async def allow(self, key: str, limit: int, window_s: float) -> bool:
        if time.monotonic() < self._down_until:
            return self._when_down(key, limit, window_s)
        window = int(self._clock() // window_s)
        name = f"{self._prefix}{key}:{window}"
        try:
            async with asyncio.timeout(self._timeout_s * 2):  # connect and answer, whatever the client's own timeouts do
                pipe = self._client().pipeline()
                pipe.incr(name)
                pipe.expire(name, int(window_s) + 1)
                count, _ = await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - redis.RedisError, socket errors, our timeout: all mean Redis is down
            if time.monotonic() >= self._down_until:
                log.warning("Redis unavailable for rate limits (%s); %s for %g s", _describe(exc), _POLICY_WORDS[self.on_down], RETRY_AFTER_S)
            self._down_until = time.monotonic() + RETRY_AFTER_S
            return self._when_down(key, limit, window_s)
        return int(count) <= limit

    def _when_down(self, key: str, limit: int, window_s: float) -> bool:
        metrics.RATE_LIMIT_REDIS_DOWN.labels(self.on_down).inc()
        if self.on_down == "open":
            return True
        if self.on_down == "closed":
            return False
        return self.fallback.allow_now(key, limit, window_s)

    async def aclose(self) -> None:
        """Close this loop's connection pool (tests and shutdown)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


_POLICY_WORDS = {
    "memory": "each process counts on its own",
    "open": "limits are not enforced",
    "closed": "limited events are refused",
}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def build_rate_limiter(redis_url: str, on_down: RedisDownPolicy = "memory") -> RateLimiter:
    return RedisRateLimiter(redis_url, on_down=on_down) if redis_url else MemoryRateLimiter()
