"""Prometheus metrics of the arena, served on ``/metrics``.

Counters and histograms live in the process's default registry (one app per
process); each instance behind a load balancer exposes its own, and
Prometheus adds them up. Labels are model names and outcomes only: never
prompts, judges or battle ids.
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from arena.backends.base import GenerationStats

BATTLES = Counter("arena_battles_total", "Battles started, by mode.", ["mode"])
VOTES = Counter("arena_votes_total", "Votes recorded, by outcome.", ["outcome"])
TIME_TO_FIRST_TOKEN = Histogram(
    "arena_time_to_first_token_seconds", "Backend time to the first streamed token, per model.", ["model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
TOKENS_PER_SECOND = Histogram(
    "arena_tokens_per_second", "Completion tokens per second after the first token, per model.", ["model"],
    buckets=(1, 2, 5, 10, 20, 40, 80, 160, 320),
)
GENERATION_ERRORS = Counter("arena_generation_errors_total", "Answers that failed, per model and kind of error.", ["model", "kind"])
GENERATIONS_IN_FLIGHT = Gauge("arena_generations_in_flight", "Answers being generated now, per model (the queue in front of each backend).", ["model"])
GC_PAUSE = Histogram(
    "arena_gc_pause_seconds", "Garbage collections of this process, by generation (2: a full one); nothing else runs meanwhile.",
    ["generation"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
EVENT_LOOP_LAG = Histogram(
    "arena_event_loop_lag_seconds", "How late the web server's event loop runs a task it was asked to run at a given time.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
RATE_LIMIT_REDIS_DOWN = Counter(
    "arena_rate_limit_redis_down_total",
    "Rate-limit checks made while Redis was unreachable, by what was done (ARENA_RATE_LIMIT_ON_REDIS_DOWN: memory, open, closed).",
    ["policy"],
)
PATCH_ACTIVE = Gauge(
    "arena_framework_patch_active", "Each registered reach into a framework's internals (arena/patches.py): 1 if in place, 0 if it declined.",
    ["patch"],
)
JUDGEMENTS = Counter("arena_judgements_total", "Battles an AI judge has judged, per judge and outcome (done, invalid, error).", ["judge", "status"])
ACTIVE_BATTLES = Gauge("arena_active_battles", "Battles and chats held in memory by this instance (active sessions).")


def observe_generation(model: str, stats: GenerationStats, *, error_kind: str | None = None) -> None:
    """Record one finished (or failed) answer."""
    if error_kind:
        GENERATION_ERRORS.labels(model, error_kind).inc()
    if stats.first_token_s is not None:
        TIME_TO_FIRST_TOKEN.labels(model).observe(stats.first_token_s)
        streaming = (stats.duration_s or 0.0) - stats.first_token_s
        if stats.completion_tokens and stats.completion_tokens > 1 and streaming > 0:
            TOKENS_PER_SECOND.labels(model).observe((stats.completion_tokens - 1) / streaming)


def track_active_battles(count: Callable[[], int]) -> None:
    """Report the number of battles in memory by asking *count* at each scrape."""
    ACTIVE_BATTLES.set_function(count)


def exposition() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
