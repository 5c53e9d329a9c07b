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
from arena.domain import OUTCOME_SCORE, VoteFacts
from arena.store import BattleRecord, Store
from tests.upstream import Behavior

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


def watch_vote_reads(monkeypatch, store: Store) -> list[int]:  # pytest.MonkeyPatch
    """Record the ``after_id`` of every ``store.vote_arrays`` call from now on (which votes were read again)."""
    seen: list[int] = []
    real = store.vote_arrays

    def spy(category, *, after_id=0, **kwargs):
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
def app_process(folder: Path, models_path: Path, env: dict[str, str], *, name: str = "app"):
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


# --- shared by several test modules (no test module imports another) -------------------

def models_yaml(url_a: str, url_b: str) -> str:
    return f"""
models:
  - name: Alpha-Model
    backend: openai
    endpoints: ["{url_a}"]
    model: test-model
    system_prompt: You are Alpha.
    temperature: 0.3
    top_p: 0.8
    max_tokens: 77
    organization: Alpha Labs
  - name: Beta-Model
    backend: openai
    endpoints: ["{url_b}"]
    model: test-model
"""


def side_of(battle, model: str) -> str:
    return next(name for name, side in battle.sides.items() if side.model == model)


T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def battle(i: int, a: str, b: str, winner: str, *, prompt: str | None = None, mode: str = "anony", turns: int = 1,
           judge: str = "j1", when: datetime | None = None, language: str | None = "en",
           style: tuple[tuple[int, int, int, int], tuple[int, int, int, int]] | None = None, **flags: bool) -> BattleRecord:
    """A voted battle with a real transcript (one answer per side per turn); *style* sets both answers' style counts."""
    prompt = prompt or f"Question number {i}?"
    conversation_a: list[dict] = []
    conversation_b: list[dict] = []
    for turn in range(turns):
        question = prompt if turn == 0 else f"Follow-up {turn} of {i}"
        conversation_a += [{"role": "user", "content": question}, {"role": "assistant", "content": f"{a} answers {i}.{turn}"}]
        conversation_b += [{"role": "user", "content": question}, {"role": "assistant", "content": f"{b} answers {i}.{turn}"}]
    facts = VoteFacts(model_a=a, model_b=b, winner=winner, mode=mode, turns=turns, language=language,
                      leak_flag=flags.get("leak", False), error_flag=flags.get("error", False),
                      **({"style_a": style[0], "style_b": style[1]} if style else {}))
    return BattleRecord(battle_id=f"{i:032x}", facts=facts, judge_hash=judge, created_at=when or T0 + timedelta(minutes=i),
                        conversation_a=conversation_a, conversation_b=conversation_b,
                        moderation_flag=flags.get("moderated", False))


SHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
STREAMING = Behavior(reply="Streaming answer " * 8, chunks=16, token_delay_s=0.05)


def shot(page, name: str) -> None:  # a Playwright Page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# --- models.yaml bodies for the configuration tests -------------------------------------------------

GOOD_REMOTE = """
  - name: Starling
    backend: openai
    endpoints: ["${STARLING_URL}"]
    model: starling-lm
"""
GOOD_LOCAL = """
  - name: Tiny
    backend: local
    model: smollm2-135m-instruct
"""


def llm_judge_yaml(url: str, **judge: object) -> str:
    """models.yaml with one chat model served at *url* and the ``llm`` judge ``stub-llm`` on it; *judge* adds its options."""
    options = "".join(f"\n    {key}: {value}" for key, value in judge.items())
    return f"""
models:
  - name: Judge-Model
    backend: openai
    endpoints: ["{url}"]
    model: test-model
judges:
  - name: stub-llm
    kind: llm
    model: Judge-Model{options}
"""


def write_models(tmp_path: Path, body: str) -> Path:
    """*body* as tmp_path/models.yaml."""
    path = tmp_path / "models.yaml"
    path.write_text(body)
    return path
