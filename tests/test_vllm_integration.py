"""A full battle against a real vLLM server (CPU build) through the openai backend.

Needs the vLLM virtualenv (``scripts/setup-vllm.sh``; ``.ci/run`` builds it).
Skipped when it is absent, unless ARENA_REQUIRE_VLLM=1 (CI), where it fails.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arena.backends.base import GenerationStats, SamplingParams
from arena.backends.openai_compat import OpenAICompatBackend
from arena.embedded import ensure_converted
from arena.settings import Settings
from tests.helpers import make_arena, play
from tests.vllm_server import VLLMServer, require_vllm

pytestmark = pytest.mark.vllm
SERVED = "smollm2-vllm"


@pytest.fixture(scope="module")
def vllm(tmp_path_factory: pytest.TempPathFactory):
    require_vllm()
    model_dir = ensure_converted(Settings.from_env().cache_dir)
    server = VLLMServer(model_dir, SERVED, tmp_path_factory.mktemp("vllm"))
    server.start()
    yield server
    server.stop()
    assert server.process is not None and server.process.poll() is not None, "vLLM still running after stop"


def test_health_probe_sees_the_served_model(vllm: VLLMServer) -> None:
    """GET /v1/models on vLLM lists the --served-model-name, so the model is available."""
    backend = OpenAICompatBackend(SERVED, [vllm.base_url])
    health = asyncio.run(backend.health())
    assert health.ok and SERVED in health.served_models


def test_stream_records_usage_and_finish_reason(vllm: VLLMServer) -> None:
    """vLLM's stream (role delta first, usage-only chunk last) yields text, usage and a finish reason."""
    backend = OpenAICompatBackend(SERVED, [vllm.base_url])
    stats = GenerationStats()

    async def collect() -> str:
        return "".join([c async for c in backend.stream([{"role": "user", "content": "Say hello."}], SamplingParams(0.0, 1.0, 16), stats)])

    text = asyncio.run(collect())
    assert text.strip()
    assert stats.finish_reason in {"stop", "length"}
    assert stats.prompt_tokens and stats.prompt_tokens > 0
    assert stats.completion_tokens and 0 < stats.completion_tokens <= 16
    assert stats.first_token_s is not None and stats.duration_s >= stats.first_token_s


def test_full_battle_through_vllm_lands_a_vote(vllm: VLLMServer, tmp_path: Path, sqlite_url: str) -> None:
    """Two models served by vLLM battle anonymously; the vote is stored with both transcripts."""
    models = f"""
models:
  - name: Smol-vLLM-Terse
    backend: openai
    endpoints: ["{vllm.base_url}"]
    model: {SERVED}
    system_prompt: Answer in one short sentence.
    temperature: 0.2
    max_tokens: 24
  - name: Smol-vLLM-Chatty
    backend: openai
    endpoints: ["${{SMOL_URL:-{vllm.base_url}}}"]
    model: {SERVED}
    temperature: 0.9
    max_tokens: 24
"""
    arena = make_arena(tmp_path, models, sqlite_url)
    assert {c.name for c in arena.pool.candidates()} == {"Smol-vLLM-Terse", "Smol-vLLM-Chatty"}

    async def scenario():
        battle = await arena.start("anony", session_id="s1", judge_hash=arena.judge_hash("127.0.0.1"))
        battle, updates = await play(arena, battle.id, "Name a colour.")
        assert updates >= 2 and battle.can_vote
        battle, _ = await play(arena, battle.id, "And another one?")
        return battle, await arena.vote(battle.id, "model_b", "s1")

    battle, receipt = asyncio.run(scenario())
    assert {receipt.model_a, receipt.model_b} == {"Smol-vLLM-Terse", "Smol-vLLM-Chatty"}
    row = arena.store.battle_row(battle.id)
    assert row.status == "voted" and row.turns == 2 and arena.store.vote_for(battle.id) == "model_b"
    for side in ("a", "b"):
        assert row.usage[side]["completion_tokens"] > 0
        transcript = arena.store.transcript(battle.sides[side].conversation_id)
        assert [m.role for m in transcript] == ["user", "assistant", "user", "assistant"]
        assert all(m.content for m in transcript)
    arena.store.close()
