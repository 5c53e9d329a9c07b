"""A small asynchronous client of Gradio's queue protocol, for fuzzing and load tests.

Why not ``gradio_client``: it runs threads per client and per job, so a
hundred concurrent voters cost more CPU in the client than in the app under
test, and it refuses malformed calls before they reach the server, which is
exactly what a fuzzer wants to send. This speaks the wire protocol directly:

* ``POST /gradio_api/queue/join`` with ``{data, fn_index, session_hash, ...}``
  returns an ``event_id``;
* ``GET /gradio_api/queue/data?session_hash=…`` is a server-sent event stream
  of ``process_starts``, ``process_generating`` and ``process_completed``
  messages for that session's events, ending with ``close_stream``.

Each :class:`Session` is one browser tab: its own session hash, one event at
a time. Every message is returned raw (with its arrival time), so callers can
look for text in it without reconstructing Gradio's streaming diffs.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Endpoint:
    fn_index: int
    inputs: tuple[int, ...]  # component ids
    state_slots: tuple[int, ...]  # positions in inputs that are gr.State (sent as null, filled by the server)


@dataclass
class AppConfig:
    root: str
    endpoints: dict[str, Endpoint]

    @classmethod
    async def fetch(cls, client: httpx.AsyncClient, root: str) -> AppConfig:
        config = (await client.get(root.rstrip("/") + "/config")).json()
        states = {c["id"] for c in config["components"] if c.get("type") == "state"}
        endpoints = {}
        for dependency in config["dependencies"]:
            name = dependency.get("api_name")
            if not name:
                continue
            inputs = tuple(dependency["inputs"])
            endpoints[name] = Endpoint(dependency["id"], inputs, tuple(i for i, c in enumerate(inputs) if c in states))
        return cls(root.rstrip("/"), endpoints)


@dataclass
class Reply:
    """What one call produced: every message in arrival order (seconds since the join was sent)."""

    status: int  # HTTP status of the join
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    raw: list[tuple[float, str]] = field(default_factory=list)  # the same messages, as received (for text search)
    stream_status: int | None = None

    @property
    def completed(self) -> dict[str, Any] | None:
        return next((m for _, m in self.messages if m.get("msg") == "process_completed"), None)

    @property
    def success(self) -> bool:
        done = self.completed
        return bool(done and done.get("success"))

    def first_time(self, text: str) -> float | None:
        """Seconds from the join until a message containing *text* arrived."""
        return next((t for t, line in self.raw if text in line), None)

    def text(self) -> str:
        return "\n".join(line for _, line in self.raw)


class Session:
    """One browser tab's worth of protocol: a session hash, and one event stream shared by its events.

    Gradio sends all of a session's events over one stream, so concurrent calls
    (a double click) are told apart by event id: one reader task routes each
    message to its call's queue, and reopens the stream while calls still wait.
    """

    def __init__(self, client: httpx.AsyncClient, config: AppConfig, session_hash: str | None = None) -> None:
        self.client, self.config = client, config
        self.session_hash = session_hash or uuid.uuid4().hex[:11]
        self._queues: dict[str, asyncio.Queue] = {}
        self._pending: set[str] = set()
        self._abandoned: set[str] = set()  # event ids of calls that timed out
        self._reader: asyncio.Task | None = None
        self.stream_statuses: list[int] = []

    def data_for(self, api_name: str, values: list[Any]) -> list[Any]:
        """*values* for the endpoint's non-state inputs, with nulls where its gr.State inputs are."""
        endpoint = self.config.endpoints[api_name]
        values = list(values)
        return [None if i in endpoint.state_slots else values.pop(0) for i in range(len(endpoint.inputs))]

    async def close(self) -> None:
        """Stop reading this session's stream (a closed tab)."""
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass

    def _queue(self, event_id: str) -> asyncio.Queue:
        return self._queues.setdefault(event_id, asyncio.Queue())

    async def call(self, api_name: str, *values: Any, raw_data: list[Any] | None = None, fn_index: int | None = None,
                   timeout: float = 60.0) -> Reply:
        """Run one event to completion. *raw_data*/*fn_index* send exactly that (fuzzing malformed calls)."""
        endpoint = self.config.endpoints.get(api_name)
        body = {
            "data": raw_data if raw_data is not None else self.data_for(api_name, list(values)),
            "event_data": None,
            "fn_index": fn_index if fn_index is not None else (endpoint.fn_index if endpoint else -1),
            "trigger_id": None,
            "session_hash": self.session_hash,
        }
        started = time.perf_counter()
        # ASCII-escaped JSON, as browsers send it: lone surrogates travel as \ud800 escapes (httpx's json= cannot encode them).
        join = await self.client.post(f"{self.config.root}/gradio_api/queue/join", content=json.dumps(body).encode(),
                                      headers={"Content-Type": "application/json"}, timeout=timeout)
        reply = Reply(join.status_code)
        if join.status_code != 200:
            reply.raw.append((time.perf_counter() - started, join.text))
            return reply
        event_id = join.json()["event_id"]
        self._pending.add(event_id)
        queue = self._queue(event_id)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(timeout))
        deadline = started + timeout
        try:
            while True:
                try:
                    arrived, line, message = await asyncio.wait_for(queue.get(), max(0.0, deadline - time.perf_counter()))
                except asyncio.TimeoutError:
                    reply.stream_status = 599  # no answer in time: for a fuzzer or a load test, a failure of the server
                    self._abandoned.add(event_id)
                    seen = [m.get("msg") for _, m in reply.messages]
                    reader = "none" if self._reader is None else ("done" if self._reader.done() else "reading")
                    reply.raw.append((time.perf_counter() - started, f"no completion within {timeout:.0f} s (session "
                                      f"{self.session_hash}, event {event_id}, got {seen}, reader {reader}, "
                                      f"streams {self.stream_statuses})"))
                    return reply
                if message is None:  # the stream failed
                    reply.stream_status = line if isinstance(line, int) else 599
                    reply.raw.append((arrived - started, f"event stream failed: {line}"))
                    return reply
                reply.messages.append((arrived - started, message))
                reply.raw.append((arrived - started, line))
                if message.get("msg") == "process_completed":
                    return reply
        finally:
            reply.stream_status = reply.stream_status or (self.stream_statuses[-1] if self.stream_statuses else None)
            self._pending.discard(event_id)
            self._queues.pop(event_id, None)

    async def _read(self, timeout: float) -> None:
        """Read the session's stream, routing messages by event id; reopen it while calls still wait."""
        while self._pending:
            try:
                async with self.client.stream("GET", f"{self.config.root}/gradio_api/queue/data",
                                              params={"session_hash": self.session_hash}, timeout=timeout) as stream:
                    self.stream_statuses.append(stream.status_code)
                    if stream.status_code != 200:
                        await stream.aread()
                        for event_id in list(self._pending):
                            self._queue(event_id).put_nowait((time.perf_counter(), stream.status_code, None))
                        return
                    buffer = ""
                    async for chunk in stream.aiter_text():
                        buffer += chunk
                        while "\n\n" in buffer:
                            line, buffer = buffer.split("\n\n", 1)
                            if not line.startswith("data:"):
                                continue
                            message = json.loads(line[5:])
                            kind, event_id = message.get("msg"), message.get("event_id")
                            if kind == "heartbeat" or kind == "close_stream" or event_id is None:
                                # Never hang up here: Gradio deletes a session's message queue when one of its
                                # streams is cut mid-wait, and a call that joined meanwhile would never hear back.
                                # The server ends the stream itself once the session has no event left.
                                continue
                            if event_id not in self._abandoned:  # (a call that gave up must not leave a queue behind)
                                self._queue(event_id).put_nowait((time.perf_counter(), line, message))
            except Exception as exc:  # noqa: BLE001 - whatever broke the stream, every waiting call must hear of it
                for event_id in list(self._pending):
                    self._queue(event_id).put_nowait((time.perf_counter(), repr(exc), None))
                return
