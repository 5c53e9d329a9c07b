"""A tiny, real OpenAI-compatible HTTP server that tests script.

Why: the OpenAI-compatible backend must be tested against a real HTTP upstream
(real sockets, real SSE framing, real timeouts), but tests cannot load model
weights or depend on a running vLLM. ``Upstream`` serves ``GET /v1/models`` and
``POST /v1/chat/completions`` (streaming and not) from a uvicorn server in a
background thread on 127.0.0.1 with an OS-chosen port. What it does on each
request is read from its mutable ``behavior`` (a ``Behavior`` dataclass), so a
test can make it stall, fail, die mid-stream or speak another server's dialect,
and every chat request body it received is kept in ``requests``.

    with Upstream() as up:                       # or: yield from serve() in a fixture
        up.behavior = Behavior(reply="hi there", chunks=3, stall_s=2.0)
        backend = OpenAICompatBackend("test-model", [up.url])
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterator, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

DEFAULT_MODEL = "test-model"


@dataclass
class Behavior:
    """How the upstream answers the next requests; tests replace or mutate it freely."""

    reply: str | None = None  # None: "You said: <last user message>"
    respond: Callable[[dict[str, Any]], str] | None = None  # the reply computed from the request body (overrides reply)
    chunks: int = 4  # the reply is split into this many content deltas
    token_delay_s: float = 0.0  # sleep between content deltas (a slow stream)
    shape: Literal["vllm", "llamacpp"] = "vllm"  # llamacpp: role delta without content, never usage
    finish_reason: str = "stop"
    header_delay_s: float = 0.0  # sleep before sending the response headers
    stall_s: float = 0.0  # headers sent, then sleep before the first chunk
    status: int = 200  # != 200: a JSON error body with this status, no stream
    malformed_after: int | None = None  # emit `garbage` after this many content deltas
    garbage: str = "data: this is not json\n\n"
    die_after: int | None = None  # after this many content deltas, end without finish_reason or [DONE]:
    die_cleanly: bool = False  # ... by a clean end of body (True) or by dropping the connection (False)
    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    models_status: int = 200
    health_status: int | None = None  # serve GET /health (vLLM's liveness route) with this status; None: no such route (404)
    flag_terms: list[str] = field(default_factory=list)  # POST /v1/moderations flags inputs containing any of these


class _Die(Exception):
    """Raised inside a streaming body: uvicorn then closes the connection mid-response."""


def free_port() -> int:
    """A port that was free a moment ago (and, unless reused, is now closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def split_text(text: str, n: int) -> list[str]:
    """*text* in at most *n* non-empty consecutive pieces (one piece if it is empty)."""
    n = max(1, min(n, len(text)))
    size, extra = divmod(len(text), n)
    pieces, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


class Upstream:
    """A scriptable OpenAI-compatible server on 127.0.0.1; ``url`` ends in ``/v1``."""

    def __init__(self, behavior: Behavior | None = None, *, port: int = 0) -> None:
        """*port* 0 picks a free one; a given port restarts a stopped upstream where clients expect it."""
        self.behavior = behavior or Behavior()
        self.requests: list[dict[str, Any]] = []  # chat completion bodies, in arrival order
        self.models_calls = 0
        self.moderation_requests: list[dict[str, Any]] = []  # /v1/moderations bodies, in arrival order
        self.in_flight = 0  # chat requests received and not yet answered to the end (streams included)
        self.max_in_flight = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(
            self._app(), log_config=None, log_level="error", lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Upstream:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name=f"upstream-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"upstream on port {self.port} did not start")
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout):
            pass  # it accepts connections
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)  # wake stalled handlers
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        await self._server.serve(sockets=[self._sock])

    async def _sleep(self, seconds: float) -> None:
        """Sleep, unless the server is stopping: then drop the request."""
        if seconds <= 0:
            return
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return
        raise _Die("upstream stopping")

    # -- HTTP ------------------------------------------------------------------------
    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> Response:
            self.models_calls += 1
            b = self.behavior
            if b.models_status != 200:
                return _error(b.models_status, "models listing failed")
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "upstream"} for m in b.models]
            return JSONResponse({"object": "list", "data": data})

        @app.get("/health")
        async def health() -> Response:
            status = self.behavior.health_status
            if status is None:
                return JSONResponse({"detail": "Not Found"}, status_code=404)
            return Response(status_code=status)

        @app.post("/v1/moderations")
        async def moderations(request: Request) -> Response:
            body = await request.json()
            self.moderation_requests.append(body)
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            results = []
            for text in inputs:
                hit = any(term.lower() in text.lower() for term in self.behavior.flag_terms)
                results.append({"flagged": hit, "categories": {"harassment": hit, "violence": False}})
            return JSONResponse({"id": "modr-test", "model": body.get("model", "omni-moderation-latest"), "results": results})

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body = await request.json()
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            streaming = False
            try:
                response = await self._chat(body)
                streaming = isinstance(response, StreamingResponse)
                return response
            finally:
                if not streaming:
                    self.in_flight -= 1

        return app

    async def _chat(self, body: dict[str, Any]) -> Response:
        b = self.behavior  # one behaviour for the whole request, even if a test swaps it meanwhile
        await self._sleep(b.header_delay_s)
        if b.status != 200:
            return _error(b.status, "scripted upstream failure")
        text = b.respond(body) if b.respond is not None else b.reply if b.reply is not None else f"You said: {_last_user(body)}"
        usage = {
            "prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in body.get("messages", [])),
            "completion_tokens": len(split_text(text, b.chunks)),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            return JSONResponse(
                {**_head(body, "chat.completion"), "usage": usage,
                 "choices": [{"index": 0, "message": message, "finish_reason": b.finish_reason}]}
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(self._counted(self._events(b, body, text, usage, include_usage)), media_type="text/event-stream")

    async def _counted(self, events: AsyncIterator[str]) -> AsyncIterator[str]:
        """*events*, the request counted in flight until the stream ends (a stream dropped before its start is not seen)."""
        try:
            async for event in events:
                yield event
        finally:
            self.in_flight -= 1

    async def _events(
        self, b: Behavior, body: dict[str, Any], text: str, usage: dict[str, int], include_usage: bool
    ) -> AsyncIterator[str]:
        head = _head(body, "chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            if b.shape == "vllm":
                choice["logprobs"] = None
            return "data: " + json.dumps({**head, "choices": [choice]}) + "\n\n"

        await self._sleep(b.stall_s)
        yield chunk({"role": "assistant", "content": ""} if b.shape == "vllm" else {"role": "assistant"})
        pieces = split_text(text, b.chunks)
        for i, piece in enumerate(pieces):
            if b.malformed_after == i:
                yield b.garbage
            if b.die_after == i:
                break
            if i:
                await self._sleep(b.token_delay_s)
            yield chunk({"content": piece})
        if b.malformed_after is not None and b.malformed_after >= len(pieces):
            yield b.garbage
        if b.die_after is not None:
            if b.die_cleanly:
                return
            raise _Die(f"scripted death after {min(b.die_after, len(pieces))} chunks")
        yield chunk({}, b.finish_reason)
        if include_usage and b.shape == "vllm":
            yield "data: " + json.dumps({**head, "choices": [], "usage": usage}) + "\n\n"
        yield "data: [DONE]\n\n"


def _head(body: dict[str, Any], obj: str) -> dict[str, Any]:
    return {"id": "chatcmpl-upstream", "object": obj, "created": int(time.time()), "model": body.get("model", "")}


def _last_user(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "server_error", "code": status}}, status_code=status)


def serve(behavior: Behavior | None = None) -> Iterator[Upstream]:
    """For fixtures: ``yield from serve()`` runs an upstream for the test's duration."""
    with Upstream(behavior) as upstream:
        yield upstream
