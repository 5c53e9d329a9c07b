"""Building the running arena from settings and models.yaml (shared by app.py and the CLI)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from arena import responsiveness
from arena.config import load_catalogue
from arena.language import use_helper_process
from arena.leaderboard import LeaderboardService
from arena.pool import ModelPool
from arena.reload import ModelsReloader
from arena.service import Arena
from arena.settings import Settings
from arena.store import Store

log = logging.getLogger(__name__)


@dataclass
class Running:
    arena: Arena
    demo: object  # gr.Blocks; typed loosely to keep gradio out of import-time for the CLI


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
    return Arena(settings, pool, store)


def serve(models_path: str | Path, host: str, port: int, *, block: bool = True, settings: Settings | None = None) -> Running:
    """Start the web app; with ``block=False`` return once it listens (tests use this)."""
    from starlette.middleware import Middleware

    from arena.security import ApiGuard, SecurityHeaders
    from arena.ui import build_demo, gradio_speedups, queue_naps
    from arena.ui.app import export_root
    from arena.ui.theme import CSS, THEME

    # Gradio recomputes a pandas summary of up to 10,000 past events after every event by default: under load
    # that was a tenth of the app's CPU. Summarise rarely, over fewer events (nothing here reads the summary).
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    arena = build_arena(models_path, settings)
    arena.pool.start_background()
    # Language detection gets a process of its own; it loads its profiles there (about a second) now, not during
    # somebody's first vote.
    threading.Thread(target=use_helper_process, name="language-helper", daemon=True).start()
    leaderboards = LeaderboardService(arena.store, anchor_model=arena.settings.anchor_model, anchor_score=arena.settings.anchor_score)
    reloader = ModelsReloader(arena, models_path)
    reloader.watch(arena.settings.models_watch_interval)
    demo = build_demo(arena, leaderboards, reloader)
    demo.queue(default_concurrency_limit=None, max_size=512)
    queue_naps.install(demo._queue)  # an idle queue waits for work instead of polling every millisecond
    with keep_alive_from_the_start(arena.settings.keep_alive_seconds) as set_before_start:
        demo.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            theme=THEME,
            css=CSS,
            footer_links=[],
            quiet=True,
            show_error=False,
            run_history=False,  # chats must not linger in the browser's storage
            ssr_mode=False,
            allowed_paths=[str(export_root(arena.settings))],  # the Admin tab's export downloads
            # Images and frames from this server only; malformed API calls refused and text cleaned before Gradio sees them.
            app_kwargs={"middleware": [Middleware(SecurityHeaders), Middleware(ApiGuard, blocks=demo)]},
        )
    gradio_speedups.run_login_check_inline(demo.app)
    if not set_before_start:  # Gradio's server class changed: a moment late is better than never
        keep_connections_alive(demo, arena.settings.keep_alive_seconds)
    _serve_metrics(demo)
    responsiveness.watch_gc()
    loop = responsiveness.server_loop(getattr(demo, "server", None))
    if loop is not None:
        responsiveness.watch_loop(loop)
    responsiveness.settle_heap()  # last: what start-up made is the app itself, never garbage
    log.info("Starling Arena is running at http://%s:%d (metrics on /metrics)", host, port)
    if block:
        stop_on_sigterm()
        demo.block_thread()
    return Running(arena=arena, demo=demo)


@contextmanager
def keep_alive_from_the_start(seconds: float) -> Iterator[bool]:
    """While Gradio launches inside this block, its server keeps idle connections *seconds* from the first one.

    Yields whether that is in place (False if Gradio's server changed shape).

    Why: uvicorn reads the keep-alive once per connection, when it accepts
    it, and Gradio's server answers before ``launch`` returns. Set only
    afterwards (:func:`keep_connections_alive`), the first connections of a
    busy start kept uvicorn's 5 s (CI caught it). Gradio builds its server
    and starts its thread inside ``launch``; this sets the value in between.
    """
    from gradio import http_server

    original = getattr(getattr(http_server, "Server", None), "run_in_thread", None)
    if original is None:
        log.warning("cannot set the keep-alive before Gradio's server starts (its shape changed)")
        yield False
        return

    def run_in_thread(server) -> None:  # noqa: ANN001 - gradio.http_server.Server
        server.config.timeout_keep_alive = seconds
        original(server)

    http_server.Server.run_in_thread = run_in_thread
    try:
        yield True
    finally:
        http_server.Server.run_in_thread = original


def keep_connections_alive(demo, seconds: float) -> bool:  # noqa: ANN001 - gr.Blocks, launched
    """Keep idle client connections open *seconds* (uvicorn's default is 5 s, which Gradio keeps); True if set.

    Why: a client that reuses a pooled connection just as the server closes
    it gets a reset instead of an answer. A load balancer that keeps its
    upstream connections longer than the app (60 s on AWS ALB and nginx)
    turns that race into sporadic 502s, and the load benchmark's HTTP client
    (which expires idle connections after 5 s as well) into sporadic read
    errors. The server must be the side that waits longer. Connections
    accepted from now on use the new value; :func:`keep_alive_from_the_start`
    sets it before the first.
    """
    config = getattr(getattr(demo, "server", None), "config", None)
    if config is None or not hasattr(config, "timeout_keep_alive"):
        log.warning("cannot set the keep-alive of Gradio's server (its shape changed); idle connections close after uvicorn's default")
        return False
    config.timeout_keep_alive = seconds
    return True


def stop_on_sigterm() -> bool:
    """Let SIGTERM (``docker stop``, systemd, a rolling deploy) stop the app as Ctrl-C does; True if set.

    Why: Python ends at once on SIGTERM, so answers being streamed were cut
    and their turns never stored. As an interrupt, the server stops taking
    connections and lets running events finish (Gradio waits up to 5 s),
    then the app exits normally. Only the main thread may set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return True


def _serve_metrics(demo) -> None:  # noqa: ANN001 - gr.Blocks, launched
    """Prometheus metrics on /metrics of the app's own web server."""
    from fastapi import Response

    from arena.metrics import exposition

    def metrics_page() -> Response:
        body, content_type = exposition()
        return Response(content=body, media_type=content_type)

    demo.app.add_api_route("/metrics", metrics_page, methods=["GET"], include_in_schema=False)
