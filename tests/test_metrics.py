"""Prometheus metrics: counters and histograms move when battles run, answers fail and votes arrive."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from arena import metrics
from arena.backends.base import GenerationStats
from tests.helpers import make_arena, models_yaml, play
from tests.upstream import Behavior, Upstream


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_observe_generation_records_latency_speed_and_errors() -> None:
    before = (value("arena_time_to_first_token_seconds_count", model="M"), value("arena_tokens_per_second_count", model="M"),
              value("arena_generation_errors_total", model="M", kind="timeout"), value("arena_tokens_per_second_sum", model="M"))
    metrics.observe_generation("M", GenerationStats(first_token_s=0.2, duration_s=1.2, completion_tokens=51))
    metrics.observe_generation("M", GenerationStats(), error_kind="timeout")
    assert value("arena_time_to_first_token_seconds_count", model="M") == before[0] + 1
    assert value("arena_tokens_per_second_count", model="M") == before[1] + 1
    assert value("arena_tokens_per_second_sum", model="M") == pytest.approx(before[3] + 50.0)  # 50 tokens after the first, in 1 s
    assert value("arena_generation_errors_total", model="M", kind="timeout") == before[2] + 1


def test_a_battle_and_a_vote_move_the_counters(tmp_path: Path, sqlite_url: str, up: Upstream, up2: Upstream) -> None:
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), sqlite_url)
    battles, votes = value("arena_battles_total", mode="anony"), value("arena_votes_total", outcome="tie (bothbad)")
    ttft = value("arena_time_to_first_token_seconds_count", model="Alpha-Model")
    battle = asyncio.run(arena.start("anony", session_id="s", judge_hash="j"))
    assert value("arena_battles_total", mode="anony") == battles + 1
    assert value("arena_active_battles") >= 1
    asyncio.run(play(arena, battle.id, "hello", session="s"))
    assert value("arena_time_to_first_token_seconds_count", model="Alpha-Model") == ttft + 1
    assert value("arena_generations_in_flight", model="Alpha-Model") == 0
    asyncio.run(arena.vote(battle.id, "tie (bothbad)", "s"))
    assert value("arena_votes_total", outcome="tie (bothbad)") == votes + 1

    up2.behavior = Behavior(status=500)  # Beta's endpoint now fails: an error of some kind is counted for Beta
    failed = sum(_samples("arena_generation_errors_total", model="Beta-Model").values())
    second = asyncio.run(arena.start("anony", session_id="s2", judge_hash="j"))
    asyncio.run(play(arena, second.id, "hello again", session="s2"))
    assert sum(_samples("arena_generation_errors_total", model="Beta-Model").values()) == failed + 1
    arena.store.close()


def _samples(name: str, **labels: str) -> dict[tuple, float]:
    out = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out
