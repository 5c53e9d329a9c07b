"""Every HTTP client of the app shares one TLS context (arena/http_clients.py): opening one reads no CA bundle."""

from __future__ import annotations

import ssl

import httpx
import pytest

from arena.backends.base import GenerationStats, SamplingParams
from arena.backends.openai_compat import OpenAICompatBackend, Timeouts
from arena.http_clients import async_client, tls_context
from arena.moderation import OpenAIModerator
from tests.upstream import DEFAULT_MODEL, Upstream


@pytest.fixture
def bundle_reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each time a TLS context reads CA certificates (what building a context costs), once the shared one exists."""
    tls_context()
    reads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        reads.append(args or kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    return reads


async def test_clients_share_the_context_and_read_no_bundle(bundle_reads: list[object]) -> None:
    assert tls_context() is tls_context()
    for _ in range(3):
        async with async_client(timeout=5):
            pass
    assert bundle_reads == []
    async with httpx.AsyncClient(timeout=5):  # what each client cost before: the counter does count
        pass
    assert len(bundle_reads) >= 1


async def test_probes_streams_and_moderation_open_no_new_context(bundle_reads: list[object], up: Upstream) -> None:
    backend = OpenAICompatBackend(DEFAULT_MODEL, [up.url], timeouts=Timeouts(connect=2.0, first_token=5.0, total=10.0))
    try:
        assert (await backend.health()).ok
        chunks = [c async for c in backend.stream([{"role": "user", "content": "hi"}], SamplingParams(0.7, 0.9, 16), GenerationStats())]
        assert chunks
    finally:
        await backend.aclose()
    verdict = await OpenAIModerator(up.url).check(["a harmless question"])
    assert not verdict.flagged
    assert bundle_reads == []
