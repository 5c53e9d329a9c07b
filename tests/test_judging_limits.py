"""Each judge's ``concurrency`` and ``rate_per_minute`` from models.yaml reach the judging worker (CLI and app)."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path
from typing import Any

import pytest

from arena.cli import main
from arena.judge_kinds import JudgeLimits
from arena.judges.base import JudgeInput, Reading
from arena.judging import JudgingWorker, judges_for_cli
from arena.store import Store
from tests.helpers import battle, llm_judge_yaml, make_arena, models_yaml
from tests.upstream import Behavior, Upstream


class RecordedWorker(JudgingWorker):
    """The real worker, its construction's limits kept for the test (patched in where the CLI and the app import it)."""

    made: list[dict[str, Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        RecordedWorker.made.append(kwargs)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    RecordedWorker.made = []
    monkeypatch.setattr("arena.judging.JudgingWorker", RecordedWorker)
    return RecordedWorker.made


def vote(store: Store, n: int) -> None:
    store.insert_battles([battle(i, "alpha", "beta", "model_a") for i in range(n)])


@pytest.mark.parametrize(("flag", "in_flight"), [([], 3), (["--concurrency", "1"], 1), (["--concurrency", "5"], 5)])
def test_the_cli_reads_as_many_at_once_as_models_yaml_says_unless_told(
        flag: list[str], in_flight: int, tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
        recorded: list[dict[str, Any]]) -> None:
    store = Store(sqlite_url)
    vote(store, 6)  # 12 readings, all claimed in one batch: only the limit keeps them from running at once
    store.close()
    reply = Behavior(reply="Rationale: the first.\nVerdict: 1", chunks=2, header_delay_s=0.3)
    with Upstream(reply) as up:
        (tmp_path / "models.yaml").write_text(llm_judge_yaml(up.url, concurrency=3, rate_per_minute=6000))
        monkeypatch.setenv("ARENA_DATABASE_URL", sqlite_url)
        assert main(["judge", "--models", str(tmp_path / "models.yaml"), "--no-progress", *flag]) == 0
    assert len(up.requests) == 12 and up.max_in_flight == in_flight
    (made,) = recorded
    assert made["rate"] == {"stub-llm": 100.0}  # 6000 a minute, in the worker's unit (per second)


class _FakeClock:
    """Monotonic time that moves only when the worker sleeps: pacing checked by arithmetic, not by a stopwatch."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float, result: Any = None) -> Any:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await _real_sleep(0)
        return result


_real_sleep = asyncio.sleep


@pytest.mark.parametrize(("rate_line", "spacing"), [("    rate_per_minute: 30\n", 2.0), ("", 0.0)])
def test_rate_per_minute_spaces_the_readings_starts(rate_line: str, spacing: float, tmp_path: Path, sqlite_store: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  - name: m1\n    backend: openai\n    endpoints: [\"http://127.0.0.1:9/v1\"]\n    model: x\n"
                      "judges:\n  - name: longer\n    kind: rule\n    rule: longer\n    concurrency: 4\n" + rate_line)
    (judge,), limits = judges_for_cli(str(models), None)
    assert limits == JudgeLimits(concurrency={"longer": 4}, rate={"longer": 0.5} if spacing else {})
    clock = _FakeClock()
    monkeypatch.setattr("arena.judging.time", types.SimpleNamespace(monotonic=clock.monotonic))
    monkeypatch.setattr(asyncio, "sleep", clock.sleep)
    starts: list[float] = []
    real_read = judge.read

    async def read(item: JudgeInput) -> Reading:
        starts.append(clock.now)
        return await real_read(item)

    monkeypatch.setattr(judge, "read", read)
    vote(sqlite_store, 3)
    worker = JudgingWorker(sqlite_store, [judge], concurrency=limits.concurrency, rate=limits.rate)
    worker.enqueue()
    assert asyncio.run(worker.run_once()).total() == 3
    assert [later - earlier for earlier, later in zip(starts, starts[1:])] == [spacing] * 5  # 30 a minute: one every 2 s


def test_the_apps_background_worker_takes_the_limits_of_models_yaml(tmp_path: Path, sqlite_url: str, up: Upstream,
                                                                    up2: Upstream, recorded: list[dict[str, Any]]) -> None:
    """At start, and again after models.yaml is reloaded with a new concurrency (the app's own wiring of the reloader)."""
    from arena.judging import BACKGROUND_READINGS_PER_S
    from arena.reload import ModelsReloader
    from arena.server import background_judging

    judges = ("judges:\n  - {name: longer, kind: rule, rule: longer, concurrency: 3, rate_per_minute: 120}\n"
              "  - {name: marks, kind: rule, rule: markdown}\n")
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url) + judges, sqlite_url)
    reloader = ModelsReloader(arena, tmp_path / "models.yaml")
    try:
        (judging,) = background_judging(arena, reloader)
        assert recorded == [{"concurrency": {"longer": 3, "marks": 2}, "rate": {"longer": 2.0, "marks": BACKGROUND_READINGS_PER_S}}]
        (tmp_path / "models.yaml").write_text(models_yaml(up.url, up2.url) + judges.replace("concurrency: 3", "concurrency: 7"))

        async def reload_while_judging() -> None:
            task = asyncio.create_task(judging())
            assert (await asyncio.to_thread(reloader.reload)).ok
            for _ in range(1200):  # the rebuild happens on the judging task, woken by the reload
                if len(recorded) == 2:
                    break
                await asyncio.sleep(0.05)
            task.cancel()

        asyncio.run(reload_while_judging())
    finally:
        arena.store.close()
    # marks sets no rate: the background pace holds it (a judge failing at once must not spin the voters' event loop)
    assert recorded[1] == {"concurrency": {"longer": 7, "marks": 2}, "rate": {"longer": 2.0, "marks": BACKGROUND_READINGS_PER_S}}
