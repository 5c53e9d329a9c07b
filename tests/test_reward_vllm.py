"""The reward judge against a real vLLM server (CPU build) in pooling mode, serving a reward model the test makes.

The model is the embedded SmolLM2 with a one-label score head pointed from a
bad answer's hidden state to a good one's (tests/reward_model.py), so the good
answer must score higher; the server's scores are checked against
transformers' forward pass over the same folder. Needs the vLLM virtualenv
(``scripts/setup-vllm.sh``): skipped when it is absent, unless
ARENA_REQUIRE_VLLM=1 (CI), where it fails.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from arena.embedded import ensure_converted
from arena.judge_config import RewardJudgeSpec
from arena.judge_kinds.build import build_judge
from arena.judge_kinds.reward import RewardJudge
from arena.judges.base import JudgeInput, Reading
from arena.judging import JudgingWorker
from arena.settings import Settings
from arena.store import Store
from arena.tables import Judgement
from tests.helpers import battle
from tests.reward_model import build_reward_model, reference_scores
from tests.vllm_server import VLLMServer, require_vllm

pytestmark = pytest.mark.vllm
SERVED = "smollm2-reward"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
GOOD = "The capital of France is Paris."
BAD = "I don't know, maybe bananas."
TOLERANCE = 1e-3  # both sides compute in float32 from the same bf16 weights; observed differences are ~2e-5


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_vllm()
    base = ensure_converted(Settings.from_env().cache_dir)
    good, bad = (QUESTION + [{"role": "assistant", "content": answer}] for answer in (GOOD, BAD))
    return build_reward_model(base, tmp_path_factory.mktemp("reward-model") / "model", good, bad)


@pytest.fixture(scope="module")
def expected(reward_model: Path) -> dict[str, float]:
    """transformers' scores of the good and the bad answer: the independent reference."""
    good, bad = reference_scores(reward_model, [QUESTION + [{"role": "assistant", "content": a}] for a in (GOOD, BAD)])
    return {GOOD: good, BAD: bad}


@pytest.fixture(scope="module")
def server(reward_model: Path, tmp_path_factory: pytest.TempPathFactory):
    # float32 so vLLM's scores match transformers' closely; --runner pooling is what the judge's docs tell users to run.
    vllm = VLLMServer(reward_model, SERVED, tmp_path_factory.mktemp("vllm-reward"), ["--runner", "pooling", "--dtype", "float32"])
    vllm.start()
    yield vllm
    vllm.stop()
    assert vllm.process is not None and vllm.process.poll() is not None, "vLLM still running after stop"


def judge(server: VLLMServer, tie_margin: float = 0.0) -> RewardJudge:
    """The judge as models.yaml configures it: a spec through build_judge (the base URL with /v1, as users copy it)."""
    spec = RewardJudgeSpec(name="smol-rm", kind="reward", endpoints=[server.base_url], model=SERVED, tie_margin=tie_margin)
    built = build_judge(spec, {})
    assert isinstance(built, RewardJudge)
    return built


def read(judge: RewardJudge, first: str, second: str) -> Reading:
    async def once() -> Reading:
        try:
            return await judge.read(JudgeInput(QUESTION, first, second))
        finally:
            await judge.aclose()

    return asyncio.run(once())


def test_the_better_answer_wins_in_either_order_with_the_models_own_scores(server: VLLMServer, expected: dict[str, float]) -> None:
    forward, swapped = read(judge(server), GOOD, BAD), read(judge(server), BAD, GOOD)
    assert (forward.verdict, forward.invalid_reason) == ("a", None)
    assert (swapped.verdict, swapped.invalid_reason) == ("b", None)
    assert forward.scores is not None and swapped.scores is not None
    assert forward.scores == pytest.approx((expected[GOOD], expected[BAD]), abs=TOLERANCE)  # raw logits, not vLLM's sigmoid
    assert swapped.scores == pytest.approx((expected[BAD], expected[GOOD]), abs=TOLERANCE)
    assert expected[GOOD] - expected[BAD] > 1.0  # the head's gap is the distance between the two hidden states


def test_a_margin_wider_than_the_gap_is_a_tie(server: VLLMServer, expected: dict[str, float]) -> None:
    gap = expected[GOOD] - expected[BAD]
    assert read(judge(server, tie_margin=gap * 0.9), GOOD, BAD).verdict == "a"
    tie = read(judge(server, tie_margin=gap * 1.1), GOOD, BAD)
    assert tie.verdict == "tie" and tie.scores == pytest.approx((expected[GOOD], expected[BAD]), abs=TOLERANCE)


def test_the_worker_judges_a_stored_vote_through_the_server(server: VLLMServer, expected: dict[str, float], sqlite_store: Store) -> None:
    """A vote with the good answer on side b: both orders read, stored as b with the sides' scores."""
    record = battle(1, "alpha", "beta", "model_b")
    record = replace(record, conversation_a=QUESTION + [{"role": "assistant", "content": BAD}],
                     conversation_b=QUESTION + [{"role": "assistant", "content": GOOD}])
    sqlite_store.insert_battles([record])
    worker = JudgingWorker(sqlite_store, [judge(server)])
    assert worker.enqueue() == 1

    async def run() -> int:
        try:
            return (await worker.run_once()).total()
        finally:
            await worker.aclose()

    assert asyncio.run(run()) == 1
    with sqlite_store.session() as session:
        row = session.query(Judgement).one()
    assert (row.status, row.verdict, row.consistent, row.verdict_ab, row.verdict_ba) == ("done", "b", True, "b", "b")
    assert (row.score_a, row.score_b) == pytest.approx((expected[BAD], expected[GOOD]), abs=TOLERANCE)
