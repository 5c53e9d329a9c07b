"""Small factories shared by the service, UI and integration tests."""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from arena.backends.base import GenerationStats
from arena.battle import Battle, Limits
from arena.categories import VoteFacts
from arena.ratings import OUTCOME_SCORE
from arena.store import BattleRecord, Store

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class O:
    """One aggregated outcome row (what the store's counts hold), for rating tests."""

    model_a: str
    model_b: str
    winner: str
    count: int


def make_arena(tmp_path: Path, models_yaml: str, database_url: str, **settings: object):
    """An Arena over a models.yaml text and a database, probed once (as at app start), composed as the app composes it."""
    import asyncio

    from arena.config import load_catalogue
    from arena.pool import ModelPool
    from arena.server import compose_arena
    from arena.settings import Settings

    path = tmp_path / "models.yaml"
    path.write_text(models_yaml)
    settings.setdefault("min_vote_seconds", 0.0)  # tests vote as soon as the answers end unless they test this rule
    config = Settings(database_url=database_url, **settings)  # type: ignore[arg-type]
    pool = ModelPool(load_catalogue(path), config)
    asyncio.run(pool.refresh())
    return compose_arena(config, pool, Store(database_url))


async def play(arena, battle_id: str, prompt: str, session: str = "s1"):
    """Send a prompt and drain the stream; returns the battle and the number of updates seen."""
    updates = 0
    battle = None
    async for battle in arena.send(battle_id, prompt, session):
        updates += 1
    return battle, updates


def played(store: Store, mode: str = "anony", models=("m1", "m2"), judge: str = "judge-1", answers=("A!", "B!")) -> Battle:
    """A one-turn battle whose answers have finished, stored (not yet voted)."""
    battle = Battle.start(mode, list(models), session_id="s", judge_hash=store.hash_judge(judge))  # type: ignore[arg-type]
    battle.begin_turn("What is 2+2?", Limits())
    store.save_start(battle)
    for name, answer in zip(battle.sides, answers):
        battle.append(name, answer)
        battle.finish_side(name, GenerationStats(finish_reason="stop", prompt_tokens=5, completion_tokens=2, first_token_s=0.1, duration_s=0.3))
    store.save_turn(battle, regenerated=False)
    return battle


WINNERS = list(OUTCOME_SCORE)


def random_facts(rng: random.Random, models=("m1", "m2", "m3", "m4")) -> VoteFacts:
    a, b = rng.sample(models, 2)
    return VoteFacts(
        model_a=a, model_b=b, winner=rng.choice(WINNERS), mode=rng.choice(["anony", "anony", "named"]),
        leak_flag=rng.random() < 0.15, error_flag=rng.random() < 0.05, turns=rng.choice([1, 1, 2, 3]),
        user_tokens=rng.choice([5, 50, 600, 1200]), language=rng.choice(["en", "fr", None]),
        style_a=(rng.randint(1, 500), rng.randint(0, 3), rng.randint(0, 9), rng.randint(0, 4)),
        style_b=(rng.randint(1, 500), rng.randint(0, 3), rng.randint(0, 9), rng.randint(0, 4)),
    )


def records(store: Store, n: int, seed: int = 0, judges: int = 5, start: datetime | None = None) -> list[BattleRecord]:
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [
        BattleRecord(
            battle_id=f"{seed:04d}{i:028d}", facts=random_facts(rng), judge_hash=store.hash_judge(f"judge{i % judges}"),
            created_at=start + timedelta(minutes=i), conversation_a=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            conversation_b=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}],
        )
        for i in range(n)
    ]


def watch_vote_reads(monkeypatch, store: Store) -> list[int]:  # noqa: ANN001 - pytest.MonkeyPatch
    """Record the ``after_id`` of every ``store.vote_arrays`` call from now on (which votes were read again)."""
    seen: list[int] = []
    real = store.vote_arrays

    def spy(category, *, after_id=0, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen.append(after_id)
        return real(category, after_id=after_id, **kwargs)

    monkeypatch.setattr(store, "vote_arrays", spy)
    return seen


@contextmanager
def running_app(folder: Path, models_path: Path, env: dict[str, str], *, name: str = "app") -> Iterator[tuple[str, Path]]:
    """``python app.py`` on a free port of 127.0.0.1 with *env* added; yields (url ending in '/', log file) once it answers.

    The app is stopped (SIGTERM) on exit. Tests that need to kill it mid-run start their own (tests/test_crash.py).
    """
    with app_process(folder, models_path, env, name=name) as (_, url, log):
        yield url, log


@contextmanager
def app_process(folder: Path, models_path: Path, env: dict[str, str], *, name: str = "app"):  # noqa: ANN201
    """Like :func:`running_app`, yielding (process, url, log) for tests that signal the process themselves."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from tests.upstream import free_port

    port = free_port()
    log = folder / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "app.py", "--models", str(models_path), "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT, env={**os.environ, "ARENA_MODELS_WATCH_INTERVAL": "0", **env},
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield process, url, log
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
