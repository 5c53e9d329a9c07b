"""The agreement report end to end: an `llm` judge from models.yaml, answered by a scripted HTTP upstream, through the CLI.

The upstream reads each judging prompt (which battle, which answer comes
first) and answers with the verdict the test scripted for that battle and
order, so every figure of the report is known by hand in advance: agreement
with and without ties, Cohen's κ, position consistency, the invalid rate, and
the Goodhart rows of a judge that always prefers one model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from arena.cli import main
from arena.store import Store
from arena.tables import Judgement
from tests.helpers import battle, llm_judge_yaml
from tests.upstream import Behavior, Upstream

_FIRST = re.compile(r"\[Answer 1\]\n(\w+) answers (\d+)\.")
Script = dict[int, tuple[str, str]]  # battle -> the upstream's replies (Verdict line value, or raw text) in order (A,B) then (B,A)


def judge_models(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(llm_judge_yaml(url, concurrency=4))
    return path


def scripted_replies(script: Script, first_model: str) -> Any:
    """The upstream's reply to one judging request: the scripted verdict of that battle in that reading order."""
    def reply(body: dict[str, Any]) -> str:
        match = _FIRST.search(body["messages"][-1]["content"])
        assert match, body["messages"][-1]["content"][:300]
        ab, ba = script[int(match.group(2))]
        verdict = ab if match.group(1) == first_model else ba
        if verdict in ("1", "2", "tie"):
            return f"Rationale: scripted for battle {match.group(2)}.\nVerdict: {verdict}"
        return verdict  # garbage or empty, as a weak model might answer
    return reply


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


# Battle -> human winner, and the judge's replies in reading order. Answer 1 is side a in order (A,B), side b in (B,A).
#   1 human a, judge a both orders       2 human b, judge b both orders      3 human tie, judge a both orders
#   4 human a, judge b both orders       5 human a, judge "1" both times: flipped with the order, a tie, inconsistent
#   6 human b, garbage in (B,A): invalid  7 human both bad, judge tie both    8 human b, blank reply: invalid
HUMAN = {1: "model_a", 2: "model_b", 3: "tie", 4: "model_a", 5: "model_a", 6: "model_b", 7: "tie (bothbad)", 8: "model_b"}
SCRIPT: Script = {1: ("1", "2"), 2: ("2", "1"), 3: ("1", "2"), 4: ("2", "1"), 5: ("1", "1"), 6: ("1", "I would rather not say."),
                  7: ("tie", "tie"), 8: ("  ", "2")}


def test_agreement_figures_from_a_scripted_http_judge(store: Store, database_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    store.insert_battles([battle(i, "alpha", "beta", winner) for i, winner in HUMAN.items()])
    monkeypatch.setenv("ARENA_DATABASE_URL", database_url)
    with Upstream(Behavior(respond=scripted_replies(SCRIPT, "alpha"))) as up:
        assert main(["judge", "--models", str(judge_models(tmp_path, up.url)), "--no-progress"]) == 0
        assert len(up.requests) == 16  # every battle read in both orders, once
    capsys.readouterr()
    report = run_cli(["agreement", "--format", "json", "--rounds", "300"], capsys)
    (row,) = report["agreement"]
    # Valid: 1-5 and 7. Confusion [human, judge]: (a,a) (b,b) (tie,a) (a,b) (a,tie) (tie,tie).
    # Both decisive: 1, 2, 4, agreeing on 1, 2 -> 2/3. Exact with ties: 1, 2, 7 -> 3/6.
    # Marginals human (a 3, b 1, tie 2), judge (a 2, b 2, tie 2): p_e = (6 + 2 + 4) / 36 = 1/3; κ = (1/2 - 1/3) / (2/3) = 1/4.
    assert (row["n_battles"], row["n_invalid"], row["n_valid"], row["n_decisive"]) == (8, 2, 6, 3)
    assert row["invalid_rate"]["value"] == pytest.approx(2 / 8)
    assert row["agreement_without_ties"]["value"] == pytest.approx(2 / 3)
    assert row["agreement_with_ties"]["value"] == pytest.approx(1 / 2)
    assert row["cohen_kappa"]["value"] == pytest.approx(1 / 4)
    assert row["position_consistency"]["value"] == pytest.approx(5 / 6)
    for name in ("agreement_with_ties", "cohen_kappa", "position_consistency"):
        assert row[name]["low"] <= row[name]["value"] <= row[name]["high"]
    with store.session() as session:
        rows = {int(r.battle_id, 16): r for r in session.query(Judgement).all()}
    assert rows[5].verdict == "tie" and rows[5].consistent is False and (rows[5].verdict_ab, rows[5].verdict_ba) == ("a", "b")
    assert rows[6].status == "invalid" and "unparseable" in rows[6].invalid_reason
    assert rows[8].status == "invalid" and "empty" in rows[8].invalid_reason
    assert rows[1].rationale_ab == "scripted for battle 1."


def goodhart_battles() -> tuple[list, dict[int, str]]:
    """180 battles: people rank alpha > beta > gamma; the judge picks the longer answer, and gamma is usually the longer.

    Per pair 60 battles. alpha–beta: equal lengths, alpha wins 45, the judge sides with people. Against gamma: gamma
    wins 6 with people (k = 0, 10, ..., 50, half of them long), and writes 600 tokens in 45 battles (k % 4 != 0) and
    40 in the others, against 200: the judge gives gamma exactly its 45 long battles. Returns the battles and, per
    battle, the model the judge picks.
    """
    battles, picks = [], {}
    number = 0
    for k in range(60):
        number += 1
        winner = "model_a" if k < 45 else "model_b"
        battles.append(battle(number, "alpha", "beta", winner, style=((200, 1, 4, 2), (200, 1, 4, 2))))
        picks[number] = "alpha" if winner == "model_a" else "beta"
    for other in ("alpha", "beta"):
        for k in range(60):
            number += 1
            long = k % 4 != 0
            gamma_style = (600 if long else 40, 1, 4, 2)
            gamma_wins = k % 10 == 0
            if (k // 4) % 2:  # gamma on either side, as the arena draws them (the style covariates are centred over the votes)
                battles.append(battle(number, other, "gamma", "model_b" if gamma_wins else "model_a", style=((200, 1, 4, 2), gamma_style)))
            else:
                battles.append(battle(number, "gamma", other, "model_a" if gamma_wins else "model_b", style=(gamma_style, (200, 1, 4, 2))))
            picks[number] = "gamma" if long else other
    return battles, picks


def test_goodhart_rows_of_a_judge_that_always_picks_one_model(store: Store, database_url: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    battles, picks = goodhart_battles()
    store.insert_battles(battles)
    monkeypatch.setenv("ARENA_DATABASE_URL", database_url)

    def reply(body: dict[str, Any]) -> str:
        match = _FIRST.search(body["messages"][-1]["content"])
        assert match
        return f"Rationale: r.\nVerdict: {1 if picks[int(match.group(2))] == match.group(1) else 2}"

    with Upstream(Behavior(respond=reply)) as up:
        assert main(["judge", "--models", str(judge_models(tmp_path, up.url)), "--no-progress"]) == 0
    capsys.readouterr()
    report = run_cli(["agreement", "--format", "json", "--rounds", "100"], capsys)
    (board,) = report["boards"]
    assert board["n_battles"] == 180
    # People: alpha > beta > gamma. The judge: gamma > alpha > beta. Rank differences (1, 1, 2): 1 - 6 * 6 / 24 = -0.5.
    assert board["spearman"] == pytest.approx(-0.5)
    assert board["contradicted_pairs"] == 2  # gamma against alpha and against beta, beyond both intervals
    (row,) = board["goodhart"]
    assert row["model"] == "gamma" and row["gap"] == pytest.approx(row["judge_score"] - row["human_score"], abs=0.02)
    assert row["human_score"] < 1000 < row["judge_score"] and row["gap"] > row["margin"] > 0
    length = {s["feature"]: s for s in board["style"]}["length"]
    assert length["judge"] > 1.0 > abs(length["human"]) and length["significant"]
    assert 0 < row["gap_after_style"] < row["gap"] and row["margin_after_style"] > 0  # length explains part of gamma's gap
    assert [r["model"] for r in board["board"]] == ["alpha", "beta", "gamma"]  # the human order, best first
    assert main(["agreement", "--rounds", "50"]) == 0
    assert "gamma (+" in capsys.readouterr().out


def test_the_column_read_holds_what_the_orm_holds(store: Store) -> None:
    """store.judged_columns (the report's path) against the same rows read through the ORM, entry by entry."""
    from arena.judges.agreement import VERDICT_CODE
    from arena.store import JudgementResult
    from arena.tables import Vote

    battles, _ = goodhart_battles()
    store.insert_battles(battles[:30] + [battle(500, "alpha", "beta", "tie (bothbad)")])
    for name, verdicts in (("j1", "abt"), ("j2", "bat")):  # j2 "t": an invalid answer
        store.enqueue_judgements(name, "rule")
        for k, pending in enumerate(store.claim_judgements(name, 100)):
            verdict = verdicts[k % len(verdicts)]
            result = (JudgementResult(status="invalid", invalid_reason="garbage") if verdict == "t" and name == "j2"
                      else JudgementResult(status="done", verdict={"t": "tie"}.get(verdict, verdict), consistent=k % 3 > 0))
            store.save_judgement(pending.id, result)
    with store.session() as session:
        rows = (session.query(Judgement, Vote).join(Vote, Vote.id == Judgement.vote_id)
                .filter(Judgement.status.in_(["done", "invalid"])).order_by(Judgement.judge, Vote.id).all())
        expected = [(j.judge, v.model_a, v.model_b, v.winner, -1 if j.verdict is None else VERDICT_CODE[j.verdict], bool(j.consistent),
                     [v.len_a, v.headers_a, v.lists_a, v.bold_a], [v.len_b, v.headers_b, v.lists_b, v.bold_b]) for j, v in rows]
    read = store.judged_columns()
    assert len(read) == len(expected) == 62
    assert list(zip(read.judge.decode(), read.model_a.decode(), read.model_b.decode(), read.human_winner.decode(),
                    read.verdict.tolist(), read.consistent.tolist(), read.style_a.tolist(), read.style_b.tolist())) == expected
    only = store.judged_columns(["j2"])
    assert only.judges() == ["j2"] and len(only) == 31
