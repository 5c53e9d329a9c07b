"""Building the running arena from settings and models.yaml, and serving it (shared by app.py and the CLI).

The composition root: the store, the model pool, the service's parts (one
battle registry and one guard pipeline shared by the battle starter, the turn
runner and the vote service), the admin service, the UI and the web app are
made here, once, and handed to each other. The web app
(:mod:`arena.web`) runs on uvicorn, configured through its public
``Config``: idle connections are kept ``ARENA_KEEP_ALIVE_SECONDS`` (uvicorn's
own 5 s raced reused connections: read errors in the load benchmark, 502s
behind a load balancer), and SIGTERM or Ctrl-C stop it gracefully: no new
connections, answers being streamed finish and are stored (up to
``ARENA_SHUTDOWN_GRACE_SECONDS``), then the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Awaitable, Callable

import uvicorn

from arena import patches, responsiveness
from arena.admin import AdminGate, AdminService
from arena.battle import Limits
from arena.battle_start import BattleStarter
from arena.config import load_catalogue
from arena.guards import GuardPipeline
from arena.judge_report import AgreementService
from arena.language import use_helper_process
from arena.leaderboard import LeaderboardService
from arena.pool import ModelPool
from arena.reload import ModelsReloader
from arena.runtime import BattleRegistry
from arena.service import Arena
from arena.settings import Settings
from arena.store import Store
from arena.suspicion_service import SuspicionService
from arena.turns import TurnRunner
from arena.votes import VoteService

log = logging.getLogger(__name__)


def build_arena(models_path: str | Path, settings: Settings | None = None, *, probe: bool = True) -> Arena:
    """Validate models.yaml, open (and migrate) the store, probe the models once."""
    settings = settings or Settings.from_env()
    catalogue = load_catalogue(models_path)
    store = Store(settings.database_url, long_prompt_tokens=settings.long_prompt_tokens)
    pool = ModelPool(catalogue, settings)
    if probe:
        asyncio.run(pool.refresh())
    for status in pool.statuses():
        log.info("model %-28s %s (%s)", status.name, "available" if status.available else "unavailable", status.detail)
    return compose_arena(settings, pool, store)


def compose_arena(settings: Settings, pool: ModelPool, store: Store, *, rng: random.Random | None = None) -> Arena:
    """The service and its parts, each handed what it needs: one registry of battles, one guard pipeline."""
    guards = GuardPipeline.from_settings(settings, pool.identity_terms())
    registry = BattleRegistry()
    limits = Limits(max_turns=settings.max_turns, max_prompt_chars=settings.max_prompt_chars)
    return Arena(
        settings, pool, store, guards=guards, registry=registry,
        starter=BattleStarter(pool, guards, registry, rng=rng),
        turns=TurnRunner(store, guards, registry, limits),
        votes=VoteService(store, guards, registry, min_vote_seconds=settings.min_vote_seconds),
    )


def compose_admin(arena: Arena, reloader: ModelsReloader | None, export_root: Path,
                  agreements: AgreementService | None = None, suspicion: SuspicionService | None = None) -> AdminService:
    """What the Admin tab may do, behind the admin password: the store, models and exports it needs, nothing more."""
    return AdminService(AdminGate(arena.settings.admin_password), arena.store, export_root, pool=arena.pool, reloader=reloader,
                        agreements=agreements, suspicion=suspicion)


def background_judging(arena: Arena, reloader: ModelsReloader | None = None) -> list[Callable[[], Awaitable[None]]]:
    """The judging of new votes the app runs by itself (``ARENA_JUDGING``), its judges rebuilt after each reload of models.yaml.

    It runs even while no judge qualifies (unless ``ARENA_JUDGING=off``): an edit may add one.
    """
    from arena.judging import BackgroundJudging, pool_judges

    if arena.settings.judging == "off":
        return []
    judges = BackgroundJudging(arena.store, lambda: pool_judges(arena.pool, arena.settings.judging))
    if reloader is not None:
        reloader.on_reload(judges.reloaded)

    async def judging() -> None:
        await judges.run()

    return [judging]


def build_web_app(models_path: str | Path, settings: Settings | None = None) -> tuple[Any, Any, Arena]:
    """(ASGI app, gr.Blocks, Arena): everything the web process serves, with background work started."""
    from arena.ui import build_demo
    from arena.ui.app import export_root
    from arena.web import build_app

    # Gradio keeps a record of up to 10,000 past events for its monitoring dashboard (not served here) and, by
    # default, recomputes a pandas summary of them after every event: keep fewer, summarise rarely.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    arena = build_arena(models_path, settings)
    arena.pool.start_background()
    # Language detection gets a process of its own; it loads its profiles there (about a second) now, not during
    # somebody's first vote.
    threading.Thread(target=use_helper_process, name="language-helper", daemon=True).start()
    leaderboards = LeaderboardService(arena.store, anchor_model=arena.settings.anchor_model, anchor_score=arena.settings.anchor_score)
    arena.starter.pairing.attach(leaderboards)  # active pairing reads the same live leaderboard as the tab
    arena.starter.pairing.watch()
    reloader = ModelsReloader(arena, models_path)
    reloader.watch(arena.settings.models_watch_interval)
    exports = export_root(arena.settings)
    agreements = AgreementService(arena.store)  # one cache for both tabs
    admin = compose_admin(arena, reloader, exports, agreements, leaderboards.suspicion)  # one suspicion cache for both tabs
    demo = build_demo(arena, leaderboards, admin, agreements)
    demo.queue(default_concurrency_limit=None, max_size=512)
    app = build_app(demo, arena, allowed_paths=[str(exports)], background=background_judging(arena, reloader))
    patches.install_all(demo, arena.settings.patches_off)
    return app, demo, arena


class GracefulServer(uvicorn.Server):
    """uvicorn's server, ending Gradio's session heartbeats when asked to stop.

    Why: each open page keeps a ``/gradio_api/heartbeat`` stream, and
    uvicorn's graceful shutdown waits for every open connection, so one idle
    browser tab would hold a stop for the whole grace period. Gradio ends
    those streams itself when it owns the server (``Blocks.close`` sets the
    event its heartbeats wait on); here the app's lifespan cannot, since
    uvicorn runs it only after the connections have closed. Events being
    answered go on until they finish.
    """

    def __init__(self, config: uvicorn.Config, end_heartbeats: Callable[[], None]) -> None:
        super().__init__(config)
        self._end_heartbeats = end_heartbeats

    async def shutdown(self, sockets: Any = None) -> None:
        self._end_heartbeats()
        await super().shutdown(sockets)

    def run(self, sockets: Any = None) -> None:
        """Serve until SIGTERM or Ctrl-C, then stop gracefully; returns normally (exit status 0)."""
        # uvicorn raises the signal again after its graceful stop, with the handler that was in place before it
        # ran: these make that a quiet, successful end instead of a death by SIGTERM (-15) or a KeyboardInterrupt.
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, _stopped)
        super().run(sockets)


def server_config(app: Any, host: str, port: int, settings: Settings) -> uvicorn.Config:
    """uvicorn's settings for the arena: keep-alive and shutdown grace from ``ARENA_*``, logs through ours."""
    return uvicorn.Config(
        app, host=host, port=port, timeout_keep_alive=int(settings.keep_alive_seconds),
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds), log_config=None, access_log=False,
    )


def _stopped(signum: int, _frame: FrameType | None) -> None:
    log.info("Starling Arena stopped (%s)", signal.Signals(signum).name)


def serve(models_path: str | Path, host: str, port: int, *, settings: Settings | None = None) -> None:
    """Start the web app and serve until stopped (SIGTERM and Ctrl-C stop it gracefully)."""
    from arena.web import heartbeat_ender

    app, demo, arena = build_web_app(models_path, settings)
    server = GracefulServer(server_config(app, host, port, arena.settings), heartbeat_ender(app))
    responsiveness.watch_gc()
    responsiveness.settle_heap()  # last: what start-up made is the app itself, never garbage
    log.info("Starling Arena is starting at http://%s:%d (health on /healthz, metrics on /metrics)", host, port)
    server.run()
