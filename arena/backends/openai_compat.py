"""vLLM (or any OpenAI-compatible server): chat completions, streamed over HTTP with ``httpx``.

A model may have several endpoints. Each request goes to the healthy endpoint
with the fewest requests in flight; if it fails *before the first token* the
next endpoint is tried, after that the failure is final (a half-streamed answer
must not be silently replaced by another sample).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

import httpx

from arena.backends.base import (
    BackendError,
    ErrorKind,
    GenerationStats,
    Health,
    Message,
    SamplingParams,
)
from arena.config import ModelSpec
from arena.http_clients import async_client

log = logging.getLogger(__name__)


LANE_STREAMS = 8  # streams one HTTP client carries at once before another is opened (see ClientLanes)


@dataclass
class _Lane:
    client: httpx.AsyncClient
    active: int = 0


class ClientLanes:
    """The HTTP clients of one endpoint, each carrying at most *per_lane* streams at once.

    Why: httpcore's connection pool does work proportional to its number of
    connections each time it assigns a request; one client carrying a hundred
    streams spent most of a core on that (``bench/load.py``, where the same
    fix took the benchmark's own client from a whole core to a fifth).
    Small pools keep that cost flat. Clients are opened as load needs them and
    kept; idle connections expire on their own.
    """

    def __init__(self, make_client: Callable[[], httpx.AsyncClient], per_lane: int = LANE_STREAMS) -> None:
        self._make_client = make_client
        self._per_lane = per_lane
        self._lanes: list[_Lane] = []

    def acquire(self) -> _Lane:
        """A lane with room for one more stream (a new one if all are full); give it back with :meth:`release`."""
        lane = next((lane for lane in self._lanes if lane.active < self._per_lane), None)
        if lane is None:
            lane = _Lane(self._make_client())
            self._lanes.append(lane)
        lane.active += 1
        return lane

    @staticmethod
    def release(lane: _Lane) -> None:
        lane.active -= 1

    @property
    def clients(self) -> int:
        return len(self._lanes)

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.client.aclose()
        self._lanes.clear()


@dataclass
class Endpoint:
    """One base URL of a model, with its live bookkeeping."""

    url: str
    lanes: ClientLanes
    in_flight: int = 0
    healthy: bool = True
    last_error: str = ""
    failures: int = 0            # consecutive failures (probes or requests)
    retry_at: float = 0.0        # monotonic time before which a failed endpoint is not probed again
    latency_s: float | None = None  # of the last successful probe
    served: tuple[str, ...] = ()

    def failed(self, detail: str, *, backoff_s: float, max_backoff_s: float) -> None:
        """Out of rotation; the next probe waits twice as long after each consecutive failure."""
        self.healthy = False
        self.last_error = detail
        self.failures += 1
        self.retry_at = time.monotonic() + min(backoff_s * 2 ** (self.failures - 1), max_backoff_s)

    def recovered(self) -> None:
        self.healthy, self.failures, self.retry_at = True, 0, 0.0


@dataclass(frozen=True)
class EndpointReport:
    url: str
    healthy: bool
    status: str
    latency_s: float | None
    served: tuple[str, ...]
    in_flight: int


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    first_token: float = 60.0
    total: float = 300.0


class OpenAICompatBackend:
    """Streams chat completions from one served model id on one or more endpoints."""

    def __init__(
        self,
        model: str,
        endpoints: list[str],
        *,
        api_key: str | None = None,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        if not endpoints:
            raise ValueError("an OpenAI-compatible backend needs at least one endpoint")
        self.model = model
        self.timeouts = timeouts
        key = api_key or "EMPTY"
        http_timeout = httpx.Timeout(timeouts.total, connect=timeouts.connect)
        # No cap on connections: a stream cancelled (Stop) while waiting for a pooled connection would leak
        # that slot in httpcore 1.0.9 (encode/httpcore#1093); the model servers bound concurrency themselves.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        headers = {"Authorization": f"Bearer {key}"}
        self.endpoints = [
            Endpoint(url=url, lanes=ClientLanes(lambda: async_client(timeout=http_timeout, limits=limits, headers=headers)))
            for url in endpoints
        ]
        self._api_key = key
        self.backoff_s, self.max_backoff_s = 5.0, 300.0  # probe back-off of a failed endpoint: 5 s, 10 s, 20 s … 5 min

    @classmethod
    def from_spec(cls, spec: ModelSpec, endpoints: list[str], timeouts: Timeouts) -> OpenAICompatBackend:
        api_key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
        return cls(spec.model, endpoints, api_key=api_key, timeouts=timeouts)

    def _order(self) -> list[Endpoint]:
        """Healthy endpoints first, least loaded first; unhealthy ones as a last resort."""
        return sorted(self.endpoints, key=lambda e: (not e.healthy, e.in_flight))

    async def stream(self, messages: list[Message], params: SamplingParams, stats: GenerationStats) -> AsyncIterator[str]:
        started = time.monotonic()
        last_error: BackendError | None = None
        for endpoint in self._order():
            stats.attempts += 1
            stats.endpoint = endpoint.url
            endpoint.in_flight += 1
            produced = False
            try:
                async for chunk in self._stream_one(endpoint, messages, params, stats, started):
                    produced = True
                    yield chunk
                stats.duration_s = time.monotonic() - started
                return
            except BackendError as exc:
                endpoint.last_error = exc.detail
                if _endpoint_at_fault(exc):
                    endpoint.failed(exc.detail, backoff_s=self.backoff_s, max_backoff_s=self.max_backoff_s)
                if produced:
                    raise
                log.warning("endpoint failed before first token, trying next: %s", exc.kind)
                last_error = exc
            finally:
                endpoint.in_flight -= 1
        assert last_error is not None
        raise last_error

    async def _stream_one(
        self,
        endpoint: Endpoint,
        messages: list[Message],
        params: SamplingParams,
        stats: GenerationStats,
        started: float,
    ) -> AsyncIterator[str]:
        total_deadline = started + self.timeouts.total
        deadline = min(time.monotonic() + self.timeouts.first_token, total_deadline)
        got_text = False

        def remaining() -> float:
            return deadline - time.monotonic()

        # Each await gets its own timeout, so no deadline spans a ``yield`` (and the
        # consumer's task is never cancelled on our behalf while it holds a chunk).
        lane = endpoint.lanes.acquire()
        request = lane.client.build_request("POST", endpoint.url.rstrip("/") + "/chat/completions",
                                            json=self._request_body(messages, params))
        response: httpx.Response | None = None
        try:
            async with asyncio.timeout(remaining()):
                response = await lane.client.send(request, stream=True)
            if response.status_code >= 400:
                async with asyncio.timeout(remaining()):
                    detail = (await response.aread()).decode("utf-8", "replace")
                raise BackendError("http", f"{endpoint.url}: HTTP {response.status_code}: {detail[:300]}")
            async for data in _event_data(response, remaining):
                for text in self._read_event(data, stats, endpoint.url):
                    if not got_text:
                        got_text = True
                        stats.first_token_s = time.monotonic() - started
                        deadline = total_deadline
                    yield text
        except TimeoutError:
            kind: ErrorKind = "timeout" if got_text else "first_token_timeout"
            raise BackendError(kind, f"{endpoint.url}: no {'end' if got_text else 'first token'} within the limit") from None
        except httpx.TimeoutException as exc:
            raise BackendError("timeout" if got_text else "first_token_timeout", f"{endpoint.url}: {exc!r}") from None
        except (httpx.TransportError, httpx.StreamError) as exc:  # refused before the answer, or broken during it
            raise BackendError("interrupted" if got_text else "connect", f"{endpoint.url}: {type(exc).__name__}: {exc}") from None
        finally:
            try:
                if response is not None:
                    await response.aclose()
            finally:
                endpoint.lanes.release(lane)
        if not got_text:
            raise BackendError("protocol", f"{endpoint.url}: stream ended without any answer")
        if stats.finish_reason is None:
            raise BackendError("protocol", f"{endpoint.url}: stream ended without a finish reason (answer truncated)")

    def _request_body(self, messages: list[Message], params: SamplingParams) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }

    def _read_event(self, data: str, stats: GenerationStats, url: str) -> list[str]:
        """Texts in one event's JSON; usage and finish reason go into *stats*.

        Parsed by hand rather than through the ``openai`` SDK's typed models:
        under load the SDK's per-chunk validation was a fifth of the app's CPU.
        Accepts vLLM's shapes (role-only first delta with empty content; a last
        chunk with ``choices: []`` and ``usage``) and llama.cpp's (no ``content``
        in role deltas, never any usage). Anything else is a ``protocol`` error.
        """
        try:
            event = json.loads(data)
        except ValueError:
            raise BackendError("protocol", f"{url}: not JSON: {data[:200]!r}") from None
        if not isinstance(event, dict):
            raise BackendError("protocol", f"{url}: an event that is not an object: {data[:200]!r}")
        if "error" in event and not event.get("choices"):
            raise BackendError("http", f"{url}: error in stream: {str(event['error'])[:300]}")
        usage = event.get("usage")
        if isinstance(usage, dict):
            stats.prompt_tokens = usage.get("prompt_tokens", stats.prompt_tokens)
            stats.completion_tokens = usage.get("completion_tokens", stats.completion_tokens)
        choices = event.get("choices") or []
        if not isinstance(choices, list):
            raise BackendError("protocol", f"{url}: 'choices' is not a list: {data[:200]!r}")
        texts = []
        for choice in choices:
            if not isinstance(choice, dict):
                raise BackendError("protocol", f"{url}: a choice that is not an object: {data[:200]!r}")
            if choice.get("finish_reason"):
                stats.finish_reason = choice["finish_reason"]
            delta = choice.get("delta") or {}
            text = delta.get("content") if isinstance(delta, dict) else None
            if text is not None and not isinstance(text, str):
                raise BackendError("protocol", f"{url}: content that is not text: {data[:200]!r}")
            if text:
                texts.append(text)
        return texts

    async def health(self) -> Health:
        """Probe every endpoint's ``/models`` (a failed one only once its back-off has passed); healthy if any serves our id."""
        now = time.monotonic()
        due = [e for e in self.endpoints if e.healthy or now >= e.retry_at]
        results = await asyncio.gather(*(self._probe(e) for e in due))
        for endpoint, (ok, detail, ids, latency) in zip(due, results):
            endpoint.served = tuple(ids)
            if ok:
                endpoint.recovered()
                endpoint.latency_s = latency
            else:
                endpoint.failed(detail, backoff_s=self.backoff_s, max_backoff_s=self.max_backoff_s)
        details = [f"{e.url}: {'ok' if e.healthy else e.last_error}" for e in self.endpoints]
        served = sorted({i for e in self.endpoints for i in e.served})
        return Health(ok=any(e.healthy for e in self.endpoints), detail="; ".join(details), served_models=tuple(served))

    def endpoint_reports(self) -> list[EndpointReport]:
        """One line per endpoint for operators (check-models, the Admin tab)."""
        now = time.monotonic()
        reports = []
        for e in self.endpoints:
            if e.healthy:
                status = "ok"
            else:
                wait = max(0.0, e.retry_at - now)
                status = f"failing ({e.last_error}); next probe in {wait:.0f} s" if wait else f"failing ({e.last_error})"
            reports.append(EndpointReport(e.url, e.healthy, status, e.latency_s if e.healthy else None, e.served, e.in_flight))
        return reports

    async def _probe(self, endpoint: Endpoint) -> tuple[bool, str, list[str], float]:
        url = endpoint.url.rstrip("/") + "/models"
        started = time.monotonic()
        try:
            async with async_client(timeout=httpx.Timeout(self.timeouts.connect * 2, connect=self.timeouts.connect)) as client:
                response = await client.get(url, headers={"Authorization": f"Bearer {self._api_key}"})
        except httpx.HTTPError as exc:
            return False, f"unreachable ({type(exc).__name__})", [], 0.0
        latency = time.monotonic() - started
        if response.status_code != 200:
            return False, f"HTTP {response.status_code}", [], latency
        try:
            ids = [item["id"] for item in response.json().get("data", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return False, "malformed /models response", [], latency
        if self.model not in ids:
            return False, f"serves {ids}, not {self.model!r}", ids, latency
        live = await self._liveness(endpoint)
        if live is not None:
            return False, live, ids, latency
        return True, "ok", ids, latency

    async def _liveness(self, endpoint: Endpoint) -> str | None:
        """vLLM's ``GET /health`` beside ``/v1`` (a server may list models while its engine is dead); None if fine or absent."""
        root = endpoint.url.rstrip("/").removesuffix("/v1")
        try:
            async with async_client(timeout=httpx.Timeout(self.timeouts.connect * 2, connect=self.timeouts.connect)) as client:
                response = await client.get(root + "/health")
        except httpx.HTTPError as exc:
            return f"/health unreachable ({type(exc).__name__})"
        if response.status_code in (200, 404, 405):  # 404/405: no such route on this server (not vLLM)
            return None
        return f"/health answered HTTP {response.status_code}"

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.lanes.aclose()


def _endpoint_at_fault(exc: BackendError) -> bool:
    """Unreachable, silent or failing with a 5xx: take the endpoint out of rotation (a 4xx is about the request)."""
    return exc.kind in ("connect", "interrupted", "first_token_timeout") or (exc.kind == "http" and ": HTTP 5" in exc.detail)


async def _event_data(response: httpx.Response, remaining: Callable[[], float]) -> AsyncIterator[str]:
    """The data of each server-sent event until ``[DONE]``; each line awaited within *remaining()* seconds."""
    lines = response.aiter_lines()
    while True:
        try:
            async with asyncio.timeout(remaining()):
                line = await lines.__anext__()
        except StopAsyncIteration:
            return
        if not line.startswith("data:"):
            continue  # blank separators, comments, event names
        data = line[5:].strip()
        if data == "[DONE]":
            return
        yield data
