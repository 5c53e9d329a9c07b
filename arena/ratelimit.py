"""Rate limits per judge (prompts, regenerations, votes), shared by every instance through Redis.

With ``ARENA_REDIS_URL`` set, counters live in Redis, so several app
instances behind a load balancer enforce one limit together; otherwise they
live in this process's memory. Both count in fixed windows: at most *limit*
events per key in each window of *window_s* seconds. If Redis cannot be
reached, the limiter lets the event through and logs it: a limit must never
take the arena down.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    def allow(self, key: str, limit: int, window_s: float) -> bool:
        """Count one event for *key*; False once more than *limit* happened in the current window."""
        ...


class MemoryRateLimiter:
    """Per-process fixed-window counters (old windows are dropped as time moves on)."""

    def __init__(self, clock=time.time) -> None:  # noqa: ANN001 - a callable returning seconds
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, limit: int, window_s: float) -> bool:
        window = int(self._clock() // window_s)
        with self._lock:
            if len(self._counts) > 10_000:  # forget finished windows
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        return count <= limit


class RedisRateLimiter:
    """Fixed-window counters in Redis (``INCR`` + ``EXPIRE`` in one round trip), shared by all instances."""

    def __init__(self, url: str, *, prefix: str = "arena:rate:", clock=time.time) -> None:  # noqa: ANN001
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._clock = clock

    def allow(self, key: str, limit: int, window_s: float) -> bool:
        window = int(self._clock() // window_s)
        name = f"{self._prefix}{key}:{window}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, int(window_s) + 1)
            count, _ = pipe.execute()
        except Exception as exc:  # redis.RedisError and socket errors: fail open, loudly
            log.warning("rate limit not enforced, Redis unavailable: %s", exc)
            return True
        return int(count) <= limit


def build_rate_limiter(redis_url: str) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
