"""Small factories shared by the service, UI and integration tests."""

from __future__ import annotations

from pathlib import Path

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
