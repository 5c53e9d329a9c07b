"""The in-process transformers backend on the embedded SmolLM2 model."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from arena.backends.base import BackendError, GenerationStats, SamplingParams
from arena.backends.local import LocalBackend
from arena.settings import Settings

HISTORY = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name three fruits."}]


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    b = LocalBackend("smollm2-135m-instruct", cache_dir=Settings.from_env().cache_dir, threads=1, max_concurrency=1)
    b.load()
    return b


def test_streams_text_with_stats(backend: LocalBackend) -> None:
    """Greedy generation streams several chunks and records tokens, timing and finish reason."""
    stats = GenerationStats()

    async def collect() -> list[str]:
        return [chunk async for chunk in backend.stream(HISTORY, SamplingParams(0.0, 1.0, 12), stats)]

    chunks = asyncio.run(collect())
    assert len(chunks) >= 2 and "".join(chunks).strip()
    assert stats.prompt_tokens and stats.prompt_tokens > 5
    assert 0 < stats.completion_tokens <= 12
    assert stats.finish_reason in {"stop", "length"}
    assert stats.first_token_s is not None and stats.duration_s >= stats.first_token_s


def test_stop_frees_the_worker(backend: LocalBackend) -> None:
    """Closing the stream after one chunk stops generation at once (no thread keeps burning CPU)."""

    async def first_chunk_then_close() -> None:
        stream = backend.stream(HISTORY, SamplingParams(0.7, 0.9, 400), GenerationStats())
        await stream.__anext__()
        await stream.aclose()

    started = time.monotonic()
    asyncio.run(first_chunk_then_close())
    deadline = time.monotonic() + 5
    while any(t.name == "local-generate" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "local-generate" for t in threading.enumerate())
    assert time.monotonic() - started < 10  # 400 tokens would take ~25 s at CPU speed


def test_queue_limits_concurrency(backend: LocalBackend) -> None:
    """With max_concurrency=1, a second generation waits for the first (queued, not parallel)."""
    order: list[str] = []

    async def run(tag: str) -> None:
        async for _ in backend.stream(HISTORY, SamplingParams(0.0, 1.0, 4), GenerationStats()):
            order.append(tag)

    async def both() -> None:
        await asyncio.gather(run("first"), run("second"))

    asyncio.run(both())
    boundary = order.index("second")
    assert all(tag == "first" for tag in order[:boundary]) and all(tag == "second" for tag in order[boundary:])


def test_missing_local_model_is_a_clear_error() -> None:
    """A local path that does not exist fails as 'unavailable', with the path in the detail."""
    bad = LocalBackend("/nonexistent/model", cache_dir="/tmp")
    health = asyncio.run(bad.health())
    assert not health.ok

    async def attempt() -> None:
        async for _ in bad.stream(HISTORY, SamplingParams(0.0, 1.0, 4), GenerationStats()):
            pass

    with pytest.raises(BackendError) as info:
        asyncio.run(attempt())
    assert info.value.kind == "unavailable" and "/nonexistent/model" in info.value.detail
