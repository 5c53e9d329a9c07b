"""The arena's own ASGI app: the HTTP edge, health and metrics, with the Gradio UI mounted on it.

Why an app of our own: what a production web process needs (keep-alive,
security headers, a health route for load balancers, Prometheus metrics,
graceful shutdown) is configured here and in :mod:`arena.server` through
FastAPI's, Starlette's and uvicorn's public APIs, instead of by reaching into
the server Gradio would otherwise start and own. Gradio is one mounted app
(``gr.mount_gradio_app``), its queue started by this app's lifespan.

Routes of this app (Gradio has the rest):

- ``GET /healthz``: 200 with ``{"status": "ok", ...}`` when the database
  answers, 503 with the reason when it does not (the model endpoints' health
  is reported, not judged: a model that is down must not take every
  instance out of a load balancer).
- ``GET /metrics``: prometheus_client's ASGI app.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app
from starlette.routing import Mount

from arena import responsiveness
from arena.security import ApiGuard, SecurityHeaders
from arena.service import Arena

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 2.0


class _AsgiEndpoint:
    """An ASGI callable as a Starlette route endpoint (a plain function would be taken for a request handler)."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)


def build_app(demo: Any, arena: Arena, *, allowed_paths: list[str],
              background: list[Callable[[], Awaitable[None]]] | None = None) -> FastAPI:
    """The web app: *demo* (a queued ``gr.Blocks``) mounted at ``/`` behind the guard and the headers.

    *background* coroutines (e.g. the judging of new votes) run for the app's lifetime, cancelled at shutdown.
    """
    import gradio as gr

    from arena.ui.theme import CSS, THEME

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan)
    app.state.background = list(background or [])

    async def healthz() -> JSONResponse:
        return await health_response(arena)

    app.add_api_route("/healthz", healthz, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/metrics", _AsgiEndpoint(make_asgi_app()),  # type: ignore[arg-type]  # Starlette runs a non-function endpoint as ASGI; its stub knows only request handlers
                  methods=["GET"], include_in_schema=False)
    gr.mount_gradio_app(
        app, demo, path="/", theme=THEME, css=CSS, footer_links=[], show_error=False,
        run_history=False,  # chats must not linger in the browser's storage
        ssr_mode=False,
        allowed_paths=allowed_paths,  # the Admin tab's export downloads
    )
    # The last added runs first: headers go on every response, the guard's refusals included.
    app.add_middleware(ApiGuard, blocks=demo)
    app.add_middleware(SecurityHeaders)
    return app


def mounted_gradio_app(app: FastAPI) -> Any:
    """The Gradio app mounted on *app*, found through Starlette's public routing table."""
    return next(route.app for route in app.routes if isinstance(route, Mount))


def heartbeat_ender(app: FastAPI) -> Callable[[], None]:
    """What ends the mounted Gradio app's session heartbeat streams (see :class:`arena.server.GracefulServer`).

    The one attribute of Gradio's app the server touches: ``stop_event``, what ``Blocks.close`` sets.
    """
    return mounted_gradio_app(app).stop_event.set


async def health_response(arena: Arena) -> JSONResponse:
    """200 if the store answers within :data:`HEALTH_TIMEOUT_S`, else 503; models' availability for information."""
    statuses = arena.pool.statuses()
    body: dict[str, Any] = {
        "models_available": sum(1 for s in statuses if s.available),
        "models_configured": len(statuses),
    }
    try:
        await asyncio.wait_for(asyncio.to_thread(arena.store.ping), HEALTH_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - the database is down or too slow: this instance cannot take votes
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning("health check: database unavailable (%s)", reason)
        return JSONResponse({"status": "unavailable", "database": reason, **body}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", **body})


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the app serves: the event loop's lag is measured (``arena_event_loop_lag_seconds``), background work runs."""
    tasks = [asyncio.create_task(responsiveness.probe_lag(), name="event-loop-lag-probe")]
    tasks += [asyncio.create_task(work(), name=getattr(work, "__name__", "background")) for work in app.state.background]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
