"""OpenAICompatBackend against a real, scripted OpenAI-compatible upstream (tests/upstream.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from arena.backends.base import (
    BackendError,
    GenerationStats,
    Health,
    Message,
    SamplingParams,
)
from arena.backends.openai_compat import OpenAICompatBackend, Timeouts
from tests.upstream import DEFAULT_MODEL, Behavior, Upstream, free_port

MODEL = DEFAULT_MODEL
PARAMS = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=64)
HISTORY: list[Message] = [{"role": "user", "content": "hello there"}]
FAST = Timeouts(connect=2.0, first_token=5.0, total=10.0)


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


async def collect(
    urls: list[str], messages: list[Message] = HISTORY, timeouts: Timeouts = FAST
) -> tuple[list[str], GenerationStats]:
    """Stream one answer to the end; the backend is closed afterwards."""
    backend = OpenAICompatBackend(MODEL, urls, timeouts=timeouts)
    stats = GenerationStats()
    try:
        return [chunk async for chunk in backend.stream(messages, PARAMS, stats)], stats
    finally:
        await backend.aclose()


async def failure(urls: list[str], timeouts: Timeouts = FAST) -> tuple[BackendError, list[str], GenerationStats]:
    """Stream until the backend raises; return the error, the chunks seen before it and the stats."""
    backend = OpenAICompatBackend(MODEL, urls, timeouts=timeouts)
    stats, chunks = GenerationStats(), []
    try:
        with pytest.raises(BackendError) as info:
            async for chunk in backend.stream(HISTORY, PARAMS, stats):
                chunks.append(chunk)
    finally:
        await backend.aclose()
    return info.value, chunks, stats


# -- streaming ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_vllm_stream_in_chunks_with_usage(up: Upstream) -> None:
    """A vLLM-shaped stream arrives in chunks that join to the reply, with finish reason, usage and timings."""
    up.behavior = Behavior(reply="The quick brown fox jumps", chunks=5)
    chunks, stats = await collect([up.url])
    assert len(chunks) == 5
    assert "".join(chunks) == "The quick brown fox jumps"
    assert stats.finish_reason == "stop"
    assert stats.prompt_tokens == 2 and stats.completion_tokens == 5
    assert stats.first_token_s is not None and stats.duration_s is not None
    assert 0 <= stats.first_token_s <= stats.duration_s
    assert stats.attempts == 1 and stats.endpoint == up.url


@pytest.mark.asyncio
async def test_default_reply_echoes_last_user_message(up: Upstream) -> None:
    """The whole flow carries the conversation: the default reply echoes the last user message."""
    messages: list[Message] = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second question"},
    ]
    chunks, _ = await collect([up.url], messages)
    assert "".join(chunks) == "You said: second question"


@pytest.mark.asyncio
async def test_llamacpp_shape_without_usage(up: Upstream) -> None:
    """llama.cpp shape (role delta without content, no usage) still yields the right text; tokens stay None."""
    up.behavior = Behavior(reply="llama says hi", chunks=3, shape="llamacpp", finish_reason="length")
    chunks, stats = await collect([up.url])
    assert "".join(chunks) == "llama says hi"
    assert stats.finish_reason == "length"
    assert stats.prompt_tokens is None and stats.completion_tokens is None
    assert stats.first_token_s is not None and stats.duration_s is not None


@pytest.mark.asyncio
async def test_request_carries_model_params_and_messages(up: Upstream) -> None:
    """The request sends the model id, sampling params, include_usage and the messages exactly as given."""
    messages: list[Message] = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Why?"}]
    await collect([up.url], messages)
    [body] = up.requests
    assert body["model"] == MODEL
    assert body["messages"] == messages
    assert body["temperature"] == pytest.approx(0.7) and body["top_p"] == pytest.approx(0.9)
    assert body["max_tokens"] == 64
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


# -- fail-over and no-retry -----------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("first", ["http_500", "closed_port", "stall"])
async def test_failure_before_first_token_tries_next_endpoint(first: str, up: Upstream, up2: Upstream) -> None:
    """If the first endpoint fails before any token (500, closed port, stall), the second answers; attempts == 2."""
    up.behavior = Behavior(stall_s=5.0) if first == "stall" else Behavior(status=500)
    first_url = closed_url() if first == "closed_port" else up.url
    chunks, stats = await collect([first_url, up2.url], timeouts=Timeouts(connect=2.0, first_token=1.5, total=10.0))
    assert "".join(chunks) == "You said: hello there"
    assert stats.attempts == 2 and stats.endpoint == up2.url
    assert len(up2.requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(("how", "kind"), [("dies", "interrupted"), ("malformed", "protocol")])
async def test_failure_after_first_token_is_not_retried(how: str, kind: str, up: Upstream, up2: Upstream) -> None:
    """A failure after the first token is final: BackendError, and the second endpoint gets no request."""
    up.behavior = Behavior(reply="aaaabbbbccccdddd", chunks=4)
    if how == "dies":
        up.behavior.die_after = 2  # connection dropped after two chunks
    else:
        up.behavior.malformed_after = 2  # a non-JSON data line after two chunks
    error, chunks, stats = await failure([up.url, up2.url])
    assert chunks == ["aaaa", "bbbb"]  # the first two of four chunks, not replaced by another sample
    assert error.kind == kind
    assert stats.attempts == 1
    assert up2.requests == []


# -- timeouts ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("where", ["before_headers", "after_headers"])
async def test_first_token_timeout(where: str, up: Upstream) -> None:
    """A stall longer than the first-token timeout fails with kind first_token_timeout, in about that time."""
    up.behavior = Behavior(header_delay_s=10.0) if where == "before_headers" else Behavior(stall_s=10.0)
    started = time.monotonic()
    error, chunks, _ = await failure([up.url], Timeouts(connect=2.0, first_token=0.5, total=30.0))
    assert error.kind == "first_token_timeout" and chunks == []
    assert time.monotonic() - started < 0.5 + 2.0


@pytest.mark.asyncio
async def test_total_timeout_on_slow_stream(up: Upstream) -> None:
    """A stream that outlasts the total timeout fails with kind timeout after having yielded tokens."""
    up.behavior = Behavior(reply="x" * 40, chunks=40, token_delay_s=0.1)
    started = time.monotonic()
    error, chunks, stats = await failure([up.url], Timeouts(connect=2.0, first_token=5.0, total=1.0))
    assert error.kind == "timeout"
    assert 0 < len(chunks) < 40 and stats.first_token_s is not None
    assert time.monotonic() - started < 1.0 + 2.0


# -- error kinds on a single endpoint ---------------------------------------------------------


@pytest.mark.asyncio
async def test_http_500_is_kind_http(up: Upstream) -> None:
    """An HTTP 500 from the only endpoint is a BackendError of kind http."""
    up.behavior = Behavior(status=500)
    error, _, stats = await failure([up.url])
    assert error.kind == "http" and "500" in error.detail
    assert stats.attempts == 1


@pytest.mark.asyncio
async def test_malformed_stream_is_kind_protocol(up: Upstream) -> None:
    """A non-JSON data line before any token is a BackendError of kind protocol."""
    up.behavior = Behavior(malformed_after=0)
    error, chunks, _ = await failure([up.url])
    assert error.kind == "protocol" and chunks == []


@pytest.mark.asyncio
async def test_wrong_shape_json_is_kind_protocol(up: Upstream) -> None:
    """A JSON event of the wrong shape (choices not a list) is a BackendError of kind protocol."""
    up.behavior = Behavior(malformed_after=0, garbage='data: {"choices": "oops"}\n\n')
    error, _, _ = await failure([up.url])
    assert error.kind == "protocol"


@pytest.mark.asyncio
async def test_closed_port_is_kind_connect() -> None:
    """A closed port on the only endpoint is a BackendError of kind connect."""
    error, _, stats = await failure([closed_url()])
    assert error.kind == "connect" and stats.attempts == 1


# -- health -----------------------------------------------------------------------------


async def health_of(urls: list[str]) -> tuple[Health, OpenAICompatBackend]:
    """Probe once; the backend is returned (closed) to inspect its endpoints' flags."""
    backend = OpenAICompatBackend(MODEL, urls, timeouts=FAST)
    try:
        return await backend.health(), backend
    finally:
        await backend.aclose()


@pytest.mark.asyncio
async def test_health_ok_when_model_listed(up: Upstream) -> None:
    """health() is ok when /models lists the model id, and reports the served ids."""
    up.behavior = Behavior(models=["other", MODEL])
    health, _ = await health_of([up.url])
    assert health.ok
    assert health.served_models == ("other", MODEL)
    assert up.models_calls == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("case", ["other_id", "http_500", "closed_port"])
async def test_health_not_ok(case: str, up: Upstream) -> None:
    """health() is not ok when /models lists another id, returns 500, or the port is closed."""
    up.behavior = Behavior(models=["someone-else"], models_status=500 if case == "http_500" else 200)
    health, backend = await health_of([closed_url() if case == "closed_port" else up.url])
    assert not health.ok and not backend.endpoints[0].healthy
    assert health.served_models == (("someone-else",) if case == "other_id" else ())


@pytest.mark.asyncio
async def test_unhealthy_endpoint_is_tried_last(up: Upstream, up2: Upstream) -> None:
    """After health() marks an endpoint unhealthy, streams go to the healthy one first."""
    up.behavior = Behavior(models_status=500)
    backend = OpenAICompatBackend(MODEL, [up.url, up2.url], timeouts=FAST)
    try:
        health = await backend.health()
        assert health.ok and [e.healthy for e in backend.endpoints] == [False, True]
        stats = GenerationStats()
        assert "".join([c async for c in backend.stream(HISTORY, PARAMS, stats)]) == "You said: hello there"
    finally:
        await backend.aclose()
    assert stats.attempts == 1 and stats.endpoint == up2.url
    assert up.requests == [] and len(up2.requests) == 1


# -- balancing ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_least_in_flight_balancing(up: Upstream, up2: Upstream) -> None:
    """Two concurrent streams on two healthy endpoints go one to each."""
    for server in (up, up2):
        server.behavior = Behavior(chunks=4, token_delay_s=0.05)
    backend = OpenAICompatBackend(MODEL, [up.url, up2.url], timeouts=FAST)

    async def one() -> str:
        return "".join([c async for c in backend.stream(HISTORY, PARAMS, GenerationStats())])

    try:
        texts = await asyncio.gather(one(), one())
    finally:
        await backend.aclose()
    assert texts == ["You said: hello there"] * 2
    assert len(up.requests) == 1 and len(up2.requests) == 1
    assert all(e.in_flight == 0 for e in backend.endpoints)


@pytest.mark.asyncio
async def test_many_concurrent_streams_share_small_client_pools(up: Upstream) -> None:
    """Twenty streams at once on one endpoint: three clients of at most LANE_STREAMS each, all lanes free after."""
    from arena.backends.openai_compat import LANE_STREAMS

    up.behavior = Behavior(chunks=4, token_delay_s=0.05)
    backend = OpenAICompatBackend(MODEL, [up.url], timeouts=FAST)
    lanes = backend.endpoints[0].lanes
    busiest: list[int] = []

    async def one() -> str:
        chunks = []
        async for chunk in backend.stream(HISTORY, PARAMS, GenerationStats()):
            busiest.append(max(lane.active for lane in lanes._lanes))
            chunks.append(chunk)
        return "".join(chunks)

    try:
        texts = await asyncio.gather(*(one() for _ in range(20)))
        assert texts == ["You said: hello there"] * 20
        assert lanes.clients == -(-20 // LANE_STREAMS) and max(busiest) == LANE_STREAMS
        assert all(lane.active == 0 for lane in lanes._lanes)
        assert "".join([c async for c in backend.stream(HISTORY, PARAMS, GenerationStats())]) == "You said: hello there"
        assert lanes.clients == -(-20 // LANE_STREAMS)  # a free lane is reused, not a new client opened
    finally:
        await backend.aclose()
    assert lanes.clients == 0


def test_lanes_fill_one_client_before_opening_the_next() -> None:
    from arena.backends.openai_compat import ClientLanes

    made: list[object] = []
    lanes = ClientLanes(lambda: made.append(object()) or made[-1], per_lane=2)  # type: ignore[func-returns-value]
    taken = [lanes.acquire() for _ in range(5)]
    assert [made.index(lane.client) for lane in taken] == [0, 0, 1, 1, 2]
    lanes.release(taken[0])
    assert lanes.acquire() is taken[0] and lanes.clients == 3


async def test_truncated_stream_is_an_error_not_a_short_answer(up: Upstream) -> None:
    """A body that ends cleanly without a finish reason is a truncated answer: kind protocol, not success."""
    up.behavior = Behavior(reply="one two three four", chunks=4, die_after=2, die_cleanly=True)
    error, chunks, _ = await failure([up.url])
    assert error.kind == "protocol" and "truncated" in error.detail and len(chunks) == 2


# -- back-off ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_failed_endpoint_is_probed_again_only_after_its_back_off(up: Upstream) -> None:
    """A failing endpoint waits 5 s, then 10 s … before the next probe; once back it is healthy at once."""
    up.behavior = Behavior(models_status=500)
    backend = OpenAICompatBackend(MODEL, [up.url], timeouts=FAST)
    try:
        assert not (await backend.health()).ok and up.models_calls == 1
        endpoint = backend.endpoints[0]
        first_wait = endpoint.retry_at - time.monotonic()
        assert 4.0 < first_wait <= 5.0 and endpoint.failures == 1
        assert not (await backend.health()).ok and up.models_calls == 1  # within the back-off: not probed
        assert "next probe in" in backend.endpoint_reports()[0].status
        endpoint.retry_at = 0.0  # the back-off has passed
        assert not (await backend.health()).ok and up.models_calls == 2
        assert 9.0 < endpoint.retry_at - time.monotonic() <= 10.0 and endpoint.failures == 2  # doubled
        up.behavior = Behavior()
        endpoint.retry_at = 0.0
        health = await backend.health()
        assert health.ok and endpoint.failures == 0 and up.models_calls == 3
        report = backend.endpoint_reports()[0]
        assert report.healthy and report.status == "ok" and report.latency_s is not None and MODEL in report.served
    finally:
        await backend.aclose()


@pytest.mark.asyncio
async def test_a_request_that_cannot_connect_takes_the_endpoint_out_of_rotation(up: Upstream) -> None:
    dead = closed_url()
    backend = OpenAICompatBackend(MODEL, [dead, up.url], timeouts=FAST)
    try:
        stats = GenerationStats()
        assert "".join([c async for c in backend.stream(HISTORY, PARAMS, stats)]) == "You said: hello there"
        assert stats.attempts == 2 and not backend.endpoints[0].healthy and backend.endpoints[0].failures == 1
        stats = GenerationStats()
        assert "".join([c async for c in backend.stream(HISTORY, PARAMS, stats)])
        assert stats.attempts == 1 and stats.endpoint == up.url  # the dead endpoint is tried last now
    finally:
        await backend.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("status, ok", [(None, True), (200, True), (503, False)])
async def test_health_route_is_checked_where_present(status: int | None, ok: bool, up: Upstream) -> None:
    """A server that lists the model but whose /health fails (vLLM's dead engine) is unhealthy; no /health route is fine."""
    up.behavior = Behavior(health_status=status)
    health, backend = await health_of([up.url])
    assert health.ok is ok
    if not ok:
        assert "/health answered HTTP 503" in backend.endpoints[0].last_error
