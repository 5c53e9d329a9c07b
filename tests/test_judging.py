"""The judging worker over the real store (SQLite and PostgreSQL): both orders stored, errors kept, resumable, the CLI."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from arena.cli import main
from arena.judge_kinds import JudgeLimits
from arena.judges.base import JudgeInput, JudgeKind, Reading
from arena.judging import JudgingWorker, judge_input
from arena.store import Store
from arena.tables import Judgement
from tests.helpers import battle

Script = dict[int, tuple[str | None, str | None] | str]  # battle number -> verdicts in reading order (A,B), (B,A); or "raise"
_NUMBER = re.compile(r"answers (\d+)\.")


class ScriptedJudge:
    """A judge whose reading of battle i in each order is scripted; verdicts are in reading order (``a`` = *first*)."""

    kind: JudgeKind = "rule"

    def __init__(self, script: Script, *, name: str = "scripted", block_from: int | None = None) -> None:
        self.name = name
        self.script = script
        self.block_from = block_from  # battles numbered at least this never finish (a worker killed mid-batch)
        self.reads: list[tuple[int, str]] = []

    async def read(self, item: JudgeInput) -> Reading:
        match = _NUMBER.search(item.first)
        assert match, item.first
        number = int(match.group(1))
        order = "ab" if item.first.startswith("alpha") else "ba"
        assert item.conversation[-1] == {"role": "user", "content": f"Question number {number}?"}
        if self.block_from is not None and number >= self.block_from:
            await asyncio.Event().wait()
        self.reads.append((number, order))
        scripted = self.script.get(number, ("a", "b"))
        if scripted == "raise":
            raise RuntimeError(f"judge backend down on {number}")
        verdict = scripted[0] if order == "ab" else scripted[1]
        if verdict is None:
            return Reading(verdict=None, invalid_reason="no verdict in the output", latency_s=0.01)
        return Reading(verdict=verdict, rationale=f"{order} says {verdict}", scores=(1.0, 2.0) if order == "ab" else (3.0, 4.0))  # type: ignore[arg-type]

    async def aclose(self) -> None:
        return None


# Battle number -> human winner; the script below, read by hand:
#   1 consistent a (human a)     2 consistent b (human b)   3 consistent a (human tie)
#   4 consistent b (human a)     5 flipped: tie, inconsistent (human a)   6 invalid (human b)   7 the judge raises
HUMAN = {1: "model_a", 2: "model_b", 3: "tie", 4: "model_a", 5: "model_a", 6: "model_b", 7: "tie (bothbad)"}
SCRIPT: Script = {1: ("a", "b"), 2: ("b", "a"), 3: ("a", "b"), 4: ("b", "a"), 5: ("a", "a"), 6: ("a", None), 7: "raise"}


def _voted(store: Store, winners: dict[int, str]) -> None:
    store.insert_battles([battle(i, "alpha", "beta", winner) for i, winner in winners.items()])


def _rows(store: Store) -> dict[int, Judgement]:
    with store.session() as session:
        rows = session.query(Judgement).all()
    return {int(_NUMBER_OF[row.battle_id]): row for row in rows}


_NUMBER_OF = {f"{i:032x}": i for i in range(200)}


def test_verdicts_in_both_orders_errors_and_invalid_readings_are_stored(store: Store) -> None:
    _voted(store, HUMAN)
    judge = ScriptedJudge(SCRIPT)
    worker = JudgingWorker(store, [judge], concurrency=2, batch=3)
    assert worker.enqueue() == 7 and worker.enqueue() == 0  # a vote is queued once per judge
    tally = asyncio.run(worker.run_once())
    assert tally.total() == 7
    rows = _rows(store)
    first = rows[1]
    assert (first.status, first.verdict, first.consistent, first.verdict_ab, first.verdict_ba) == ("done", "a", True, "a", "a")
    assert (first.rationale_ab, first.rationale_ba) == ("ab says a", "ba says b")
    assert (first.score_a, first.score_b) == (2.5, 2.5)  # (1, 2) and the swapped reading's (3, 4) mapped back to (4, 3)
    assert first.attempts == 1 and first.judged_at is not None and first.latency_s is not None
    flipped = rows[5]
    assert (flipped.status, flipped.verdict, flipped.consistent, flipped.verdict_ab, flipped.verdict_ba) == ("done", "tie", False, "a", "b")
    invalid = rows[6]
    assert (invalid.status, invalid.verdict, invalid.consistent) == ("invalid", None, None)
    assert invalid.invalid_reason == "B,A: no verdict in the output" and invalid.verdict_ab == "a"
    failed = rows[7]
    assert failed.status == "error" and failed.invalid_reason == "RuntimeError: judge backend down on 7"
    assert store.judgement_counts() == {"scripted": {"done": 5, "invalid": 1, "error": 1}}
    assert asyncio.run(worker.run_once()).total() == 0  # nothing pending: nothing read again
    assert len(judge.reads) == 14


def test_a_killed_worker_resumes_and_judges_every_vote_exactly_once(store: Store) -> None:
    n = 12
    _voted(store, {i: "model_a" for i in range(1, n + 1)})
    killed = ScriptedJudge({}, block_from=6)
    worker = JudgingWorker(store, [killed], concurrency=2, batch=4)
    worker.enqueue()

    async def kill_mid_batch() -> None:
        task = asyncio.create_task(worker.run_once())
        while store.judgement_counts()["scripted"].get("done", 0) < 5:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(kill_mid_batch())
    assert store.judgement_counts() == {"scripted": {"done": 5, "pending": n - 5}}  # battles 6-8 were claimed, never saved
    resumed = ScriptedJudge({})
    again = JudgingWorker(store, [resumed], concurrency=3, batch=5)
    assert again.enqueue() == 0
    assert asyncio.run(again.run_once()).total() == n - 5
    assert sorted({number for number, _ in resumed.reads}) == list(range(6, n + 1))  # nothing judged twice
    rows = _rows(store)
    assert len(rows) == n and {row.status for row in rows.values()} == {"done"}
    assert store.judgement_counts() == {"scripted": {"done": n}}
    assert [rows[i].attempts for i in (1, 6, 9)] == [1, 2, 1]  # 6 was claimed by the killed worker too


def test_judge_input_is_the_conversation_to_the_last_user_turn_and_the_final_answers() -> None:
    from arena.snapshot import freeze

    record = battle(3, "alpha", "beta", "model_a", turns=2)
    conversation, answer_a, answer_b = judge_input(freeze(record.conversation_a, record.conversation_b))
    assert conversation == record.conversation_a[:3] and conversation[-1]["content"] == "Follow-up 1 of 3"
    assert (answer_a, answer_b) == ("alpha answers 3.1", "beta answers 3.1")


def test_agreement_cli_matches_hand_computed_values(store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _voted(store, HUMAN)
    worker = JudgingWorker(store, [ScriptedJudge(SCRIPT)])
    worker.enqueue()
    asyncio.run(worker.run_once())
    monkeypatch.setenv("ARENA_DATABASE_URL", database_url)
    assert main(["agreement", "--format", "json", "--rounds", "200"]) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["agreement"]
    # Valid battles 1-5 (6 invalid, 7 an error: not a judge's answer, left out). Confusion [human, judge]:
    # (a,a) (b,b) (tie,a) (a,b) (a,tie). Decisive both: 1, 2, 4, agreeing on 1, 2.
    # p_o = 2/5; marginals human (3, 1, 1), judge (2, 2, 1): p_e = (6 + 2 + 1)/25 = 0.36; κ = 0.04/0.64 = 0.0625.
    assert (row["judge"], row["n_battles"], row["n_invalid"], row["n_valid"], row["n_decisive"]) == ("scripted", 6, 1, 5, 3)
    assert row["invalid_rate"]["value"] == pytest.approx(1 / 6, abs=1e-6)
    assert row["agreement_without_ties"]["value"] == pytest.approx(2 / 3, abs=1e-6)
    assert row["agreement_with_ties"]["value"] == pytest.approx(0.4)
    assert row["cohen_kappa"]["value"] == pytest.approx(0.0625)
    assert row["position_consistency"]["value"] == pytest.approx(0.8)
    assert row["agreement_with_ties"]["low"] <= 0.4 <= row["agreement_with_ties"]["high"]
    assert report["boards"][0]["judge"] == "scripted" and report["boards"][0]["n_battles"] == 5

    assert main(["agreement", "--by", "pair", "--format", "json", "--rounds", "50"]) == 0
    assert [r["group"] for r in json.loads(capsys.readouterr().out)["agreement"]] == ["alpha vs beta"]
    assert main(["agreement", "--by", "category", "--format", "csv", "--rounds", "50"]) == 0
    assert "overall" in capsys.readouterr().out
    assert main(["agreement", "--rounds", "50"]) == 0
    assert "0.062" in capsys.readouterr().out


def test_judge_cli_with_limit(store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _voted(store, {i: "model_b" for i in range(1, 11)})
    judge = ScriptedJudge({})
    monkeypatch.setattr("arena.judging.judges_for_cli", lambda models, names, settings=None: ([judge], JudgeLimits()))
    monkeypatch.setenv("ARENA_DATABASE_URL", database_url)
    assert main(["judge", "--limit", "4", "--no-progress"]) == 0
    assert "scripted: judged 4 now (done 4)" in capsys.readouterr().out
    assert store.judgement_counts() == {"scripted": {"done": 4}}
    assert main(["judge", "--no-progress"]) == 0
    assert store.judgement_counts() == {"scripted": {"done": 10}}
    assert len(judge.reads) == 20


def test_cli_judges_are_the_ones_models_yaml_declares(tmp_path: Path) -> None:
    from arena.judging import judges_for_cli

    models = tmp_path / "models.yaml"
    models.write_text("models:\n  - name: m1\n    backend: openai\n    endpoints: [\"http://127.0.0.1:9/v1\"]\n    model: x\n"
                      "judges:\n  - name: longer\n    kind: rule\n    rule: longer\n  - name: marks\n    kind: rule\n    rule: markdown\n")
    assert [j.name for j in judges_for_cli(str(models), None)[0]] == ["longer", "marks"]
    (judge,), _ = judges_for_cli(str(models), ["longer"])
    reading = asyncio.run(judge.read(JudgeInput([], "short", "a longer answer")))
    assert reading.verdict == "b"
    with pytest.raises(ValueError, match="unknown judge"):
        judges_for_cli(str(models), ["nobody"])


def test_a_result_is_saved_once_only_on_a_pending_row(store: Store) -> None:
    from arena.store import JudgementResult

    _voted(store, {1: "model_a"})
    store.enqueue_judgements("scripted", "rule")
    (claimed,) = store.claim_judgements("scripted", 10)
    assert store.save_judgement(claimed.id, JudgementResult(status="done", verdict="a", consistent=True))
    assert not store.save_judgement(claimed.id, JudgementResult(status="error", invalid_reason="late duplicate"))
    assert _rows(store)[1].status == "done" and store.claim_judgements("scripted", 10) == []
