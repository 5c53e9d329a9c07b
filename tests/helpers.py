"""Small factories shared by the service, UI and integration tests."""

from __future__ import annotations

from pathlib import Path

from arena.backends.base import GenerationStats
from arena.battle import Battle, Limits
from arena.store import Store

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def make_arena(tmp_path: Path, models_yaml: str, database_url: str, **settings: object):
    """An Arena over a models.yaml text and a database, probed once (as at app start)."""
    import asyncio

    from arena.config import load_catalogue
    from arena.pool import ModelPool
    from arena.service import Arena
    from arena.settings import Settings

    path = tmp_path / "models.yaml"
    path.write_text(models_yaml)
    config = Settings(database_url=database_url, **settings)  # type: ignore[arg-type]
    pool = ModelPool(load_catalogue(path), config)
    asyncio.run(pool.refresh())
    return Arena(config, pool, Store(database_url))


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
