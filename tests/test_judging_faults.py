"""A judge endpoint that stalls, fails or answers garbage leaves voting alone.

Votes are acknowledged while the background judge is stuck on its endpoint
(an ordering, not a timing: the vote returns before the stalled reading does),
and the worker stores stalled, failed and unparseable readings as invalid with
their reasons instead of raising. The latency beside a faulty judge is
measured in ``bench/judge.py`` (faults section).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arena.backends.base import SamplingParams
from arena.backends.openai_compat import OpenAICompatBackend, Timeouts
from arena.judge_kinds import LlmJudge
from arena.judges.base import JudgeInput, Reading
from arena.judging import JudgingWorker
from arena.store import Store
from arena.tables import Judgement
from tests.helpers import battle, make_arena, models_yaml, play
from tests.upstream import DEFAULT_MODEL, Behavior, Upstream

PARAMS = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=64)


class WatchedJudge(LlmJudge):
    """An LLM judge that counts its finished readings: the test's witness that the judge is still stuck."""

    finished = 0

    async def read(self, item: JudgeInput) -> Reading:
        reading = await super().read(item)
        self.finished += 1
        return reading


def llm_judge(up: Upstream, name: str, timeout_s: float) -> WatchedJudge:
    backend = OpenAICompatBackend(DEFAULT_MODEL, [up.url], timeouts=Timeouts(connect=2.0, first_token=timeout_s, total=timeout_s))
    return WatchedJudge(name, backend, PARAMS, timeout_s=timeout_s)


def test_votes_are_acknowledged_while_the_judge_endpoint_is_stalled(tmp_path: Path, up: Upstream, up2: Upstream,
                                                                   database_url: str) -> None:
    arena = make_arena(tmp_path, models_yaml(up.url, up.url), database_url)  # the models answer on up; the judge is on up2
    arena.store.insert_battles([battle(i, "alpha", "beta", "model_a") for i in range(1, 4)])  # the judge's backlog
    up2.behavior = Behavior(header_delay_s=30.0)  # the judge's endpoint takes the request and says nothing
    judge = llm_judge(up2, "stalled", timeout_s=120.0)
    worker = JudgingWorker(arena.store, [judge], concurrency=1)
    assert worker.enqueue() == 3

    async def vote_beside_the_stalled_judge() -> tuple[str, tuple[bool, int, int], dict]:
        played = await arena.start("anony", session_id="s1", judge_hash=arena.judge_hash("s1"))
        await play(arena, played.id, "Hello there?")
        judging = asyncio.create_task(worker.run_once())
        while not up2.requests:  # the judge's first reading has reached its endpoint, which is not answering
            await asyncio.sleep(0.01)
        receipt = await arena.vote(played.id, "model_a", "s1")
        still_stalled = (not judging.done(), judge.finished, len(up2.requests))
        counts = arena.store.judgement_counts()
        judging.cancel()
        with pytest.raises(asyncio.CancelledError):
            await judging
        await judge.backend.aclose()
        return receipt.winner, still_stalled, counts

    winner, still_stalled, counts = asyncio.run(vote_beside_the_stalled_judge())
    assert winner == "model_a"
    assert still_stalled == (True, 0, 1)  # acknowledged while the judge's first reading was still waiting for its endpoint
    assert counts == {"stalled": {"pending": 3}}  # and nothing judged yet
    arena.store.close()


@pytest.mark.parametrize(
    ("behavior", "timeout_s", "reason"),
    [  # only the stalled endpoint meets the timeout: the others answer at once, however loaded the machine
        (Behavior(header_delay_s=30.0), 0.5, "timed out"),
        (Behavior(reply="Both answers are lovely."), 20.0, "unparseable: Both answers are lovely."),
    ],
    ids=["stalled", "garbage"],
)
def test_stalled_or_garbage_readings_are_stored_as_invalid_with_reasons(store: Store, up: Upstream, behavior: Behavior,
                                                                               timeout_s: float, reason: str) -> None:
    store.insert_battles([battle(i, "alpha", "beta", "model_a") for i in range(1, 4)])
    up.behavior = behavior
    judge = llm_judge(up, "faulty", timeout_s)
    worker = JudgingWorker(store, [judge], concurrency=6)  # all six readings at once: one timeout's wait in all
    worker.enqueue()

    async def judge_all() -> dict:
        try:
            return dict((await worker.run_once()).counts)  # returns: a faulty endpoint never raises out of the worker
        finally:
            await judge.backend.aclose()

    assert asyncio.run(judge_all()) == {("faulty", "invalid"): 3}
    with store.session() as session:
        rows = session.query(Judgement).all()
    assert [(row.status, row.verdict, row.invalid_reason) for row in rows] == [("invalid", None, f"A,B: {reason}; B,A: {reason}")] * 3
    assert all(row.latency_s is not None and row.judged_at is not None for row in rows)
    assert store.judgement_counts() == {"faulty": {"invalid": 3}}


def test_an_unreachable_judge_is_an_error_paused_then_retried_not_an_invalid_answer(store: Store, up: Upstream) -> None:
    """HTTP 500s say nothing about the judge's answers: error rows, the judge paused, judged again once it is back."""
    store.insert_battles([battle(i, "alpha", "beta", "model_a") for i in range(1, 4)])
    up.behavior = Behavior(status=500)
    judge = llm_judge(up, "flaky", 20.0)
    paused = JudgingWorker(store, [judge], concurrency=6, backoff_s=(3600.0, 3600.0))
    paused.enqueue()

    async def passes() -> list[dict]:
        try:
            first = dict((await paused.run_once()).counts)
            requests = len(up.requests)
            second = dict((await paused.run_once()).counts)  # paused: not even a claim
            assert len(up.requests) == requests
            up.behavior = Behavior(reply="Rationale: A is right.\nVerdict: 1")
            retried = JudgingWorker(store, [judge], concurrency=6, backoff_s=(0.0, 0.0))
            return [first, second, dict((await retried.run_once()).counts)]
        finally:
            await judge.backend.aclose()

    first, second, third = asyncio.run(passes())
    assert first == {("flaky", "error"): 3} and second == {} and third == {("flaky", "done"): 3}
    with store.session() as session:
        rows = session.query(Judgement).all()
    assert {(row.status, row.attempts) for row in rows} == {("done", 2)}
    assert store.judgement_counts() == {"flaky": {"done": 3}}


def test_an_error_is_retried_at_most_max_attempts_times(store: Store, up: Upstream) -> None:
    store.insert_battles([battle(1, "alpha", "beta", "model_a")])
    up.behavior = Behavior(status=500)
    judge = llm_judge(up, "down", 20.0)
    worker = JudgingWorker(store, [judge], max_attempts=2, backoff_s=(0.0, 0.0))
    worker.enqueue()

    async def passes() -> list[int]:
        try:
            return [(await worker.run_once()).total() for _ in range(4)]
        finally:
            await judge.backend.aclose()

    assert asyncio.run(passes()) == [1, 1, 0, 0]  # the first try and one retry; then the row rests as an error
    assert store.judgement_counts() == {"down": {"error": 1}}
