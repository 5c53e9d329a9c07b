"""AI judges' verdicts in the exports: the ai_winner column in each format's terms, --labels ai:NAME and agree:NAME, the datasheet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.cli import main
from arena.export import ExportFilters, run_export
from arena.store import JudgementResult, Store
from tests.helpers import battle

# Battle number -> human winner, and the judges' verdicts ("invalid": judged without a valid answer; absent: not judged).
HUMAN = {1: "model_a", 2: "model_b", 3: "model_a", 4: "model_b", 5: "tie", 6: "model_a", 7: "model_a"}
RULE = {1: "a", 2: "a", 3: "b", 4: "b", 5: "a", 6: "invalid", 7: "tie"}
OTHER = {1: "b"}


def _id(i: int) -> str:
    return f"{i:032x}"


def _judge(store: Store, name: str, verdicts: dict[int, str]) -> None:
    """Judgements of *name* with the given verdicts through the store's queue (enqueue, claim, save); other votes stay pending."""
    store.enqueue_judgements(name, "rule")
    for pending in store.claim_judgements(name, 100):
        number = int(pending.battle_id, 16)
        if number not in verdicts:
            continue
        verdict = verdicts[number]
        result = (JudgementResult(status="invalid", invalid_reason="no verdict") if verdict == "invalid"
                  else JudgementResult(status="done", verdict=verdict, consistent=True, verdict_ab=verdict, verdict_ba=verdict))
        assert store.save_judgement(pending.id, result)


@pytest.fixture
def judged(store: Store) -> Store:
    store.insert_battles([battle(i, "alpha", "beta", winner) for i, winner in HUMAN.items()])
    _judge(store, "rule", RULE)
    _judge(store, "other", OTHER)
    return store


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _verdicts(row: dict) -> dict[str, str]:
    return {item["judge"]: item["verdict"] for item in row["ai_winner"]}


def test_ai_winner_is_in_each_formats_terms(judged: Store, tmp_path: Path) -> None:
    run_export(judged, "pairwise", tmp_path / "p.jsonl", datasheet=False)
    pairs = {row["battle_id"]: row for row in _rows(tmp_path / "p.jsonl")}
    assert sorted(pairs) == [_id(i) for i in (1, 2, 3, 4, 6, 7)]  # the human tie is dropped
    assert _verdicts(pairs[_id(1)]) == {"rule": "chosen", "other": "rejected"}
    assert _verdicts(pairs[_id(2)]) == {"rule": "rejected"}  # human chose beta, the judge alpha
    assert _verdicts(pairs[_id(4)]) == {"rule": "chosen"}
    assert _verdicts(pairs[_id(6)]) == {} and _verdicts(pairs[_id(7)]) == {"rule": "tie"}  # invalid: no verdict
    run_export(judged, "pairwise", tmp_path / "k.jsonl", ties="kto", datasheet=False)
    kto = [row for row in _rows(tmp_path / "k.jsonl") if row["battle_id"] == _id(3)]
    assert [(row["model"], row["label"], _verdicts(row)) for row in kto] == [("alpha", True, {"rule": "bad"}), ("beta", False, {"rule": "good"})]
    run_export(judged, "battles", tmp_path / "b.jsonl", datasheet=False)
    battles = {row["question_id"]: row for row in _rows(tmp_path / "b.jsonl")}
    assert _verdicts(battles[_id(2)]) == {"rule": "model_a"} and _verdicts(battles[_id(5)]) == {"rule": "model_a"}
    assert _verdicts(battles[_id(1)]) == {"rule": "model_a", "other": "model_b"}


def test_ai_labels_pick_chosen_by_the_judge_and_drop_the_unjudged(judged: Store, tmp_path: Path) -> None:
    summary = run_export(judged, "pairwise", tmp_path / "p.jsonl", ExportFilters(labels="ai:rule"), datasheet=False)
    chosen = {row["battle_id"]: row["chosen_model"] for row in _rows(tmp_path / "p.jsonl")}
    assert chosen == {_id(1): "alpha", _id(2): "alpha", _id(3): "beta", _id(4): "beta", _id(5): "alpha"}  # 2, 3 flipped; 5 a human tie
    assert summary.drops["not judged by rule"] == 1  # battle 6 (invalid)
    assert any(reason.startswith("tie") for reason in summary.drops)  # battle 7: the judge's tie, dropped like a human one
    rows = _rows(tmp_path / "p.jsonl")
    assert all(_verdicts(row)["rule"] == "chosen" for row in rows)  # the labels are the judge's own


def test_agree_labels_keep_exactly_the_agreeing_pairs(judged: Store, tmp_path: Path) -> None:
    summary = run_export(judged, "pairwise", tmp_path / "p.jsonl", ExportFilters(labels="agree:rule"), datasheet=False)
    assert [row["battle_id"] for row in _rows(tmp_path / "p.jsonl")] == [_id(1), _id(4)]
    assert summary.drops["human vote and rule disagree"] == 4 and summary.drops["not judged by rule"] == 1


def test_plain_agree_keeps_pairs_every_judge_that_judged_agrees_with(judged: Store, tmp_path: Path) -> None:
    summary = run_export(judged, "pairwise", tmp_path / "p.jsonl", ExportFilters(labels="agree"))
    assert [row["battle_id"] for row in _rows(tmp_path / "p.jsonl")] == [_id(4)]  # 1: other disagrees; 2, 3, 5 (a tie), 7: rule does
    assert summary.drops["human vote and other disagree"] == 1 and summary.drops["human vote and rule disagree"] == 4
    assert summary.drops["not judged by any judge"] == 1  # battle 6: judged, but not validly
    assert "where every AI judge that judged the battle agrees" in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_plain_agree_needs_some_judgements(store: Store, tmp_path: Path) -> None:
    store.insert_battles([battle(1, "alpha", "beta", "model_a")])
    with pytest.raises(ValueError, match="the store has none"):
        run_export(store, "pairwise", tmp_path / "p.jsonl", ExportFilters(labels="agree"), datasheet=False)


def _one_prompt(store: Store) -> None:
    """Three models on one prompt; people rank alpha > beta > gamma (each battle won by side a)."""
    pairs = (("alpha", "beta"), ("beta", "gamma"), ("alpha", "gamma"))
    store.insert_battles([battle(i, a, b, "model_a", prompt="The same question?") for i, (a, b) in enumerate(pairs, start=101)])
    _judge(store, "reverse", {101: "b", 102: "b", 103: "b"})  # side b always: gamma > beta > alpha
    _judge(store, "partial", {101: "a"})  # alpha above beta; gamma never judged


def test_kwise_rows_carry_each_judges_ranking(store: Store, tmp_path: Path) -> None:
    _one_prompt(store)
    run_export(store, "kwise", tmp_path / "k.jsonl", datasheet=False)
    (row,) = _rows(tmp_path / "k.jsonl")
    assert [a["model"] for a in row["answers"]] == ["alpha", "beta", "gamma"]
    assert row["ai_winner"] == [
        {"judge": "partial", "verdict": "alpha", "ranks": [1, 3, 2]},  # gamma, unjudged, sits at the prior's 0 between them
        {"judge": "reverse", "verdict": "gamma", "ranks": [3, 2, 1]},
    ]
    run_export(store, "kwise", tmp_path / "ai.jsonl", ExportFilters(labels="ai:reverse"), datasheet=False)
    (ai_row,) = _rows(tmp_path / "ai.jsonl")
    assert [(a["model"], a["rank"]) for a in ai_row["answers"]] == [("gamma", 1), ("beta", 2), ("alpha", 3)]  # RLAIF rankings


def test_parquet_with_ai_winner_loads_through_datasets(judged: Store, tmp_path: Path) -> None:
    import datasets

    _one_prompt(judged)

    for name, ties in (("pairwise", "drop"), ("pairwise", "kto"), ("battles", "drop"), ("kwise", "drop")):
        out = tmp_path / f"{name}-{ties}.parquet"
        run_export(judged, name, out, ties=ties, datasheet=False)
        dataset = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
        assert "ai_winner" in dataset.column_names and dataset.num_rows > 0
        if name != "kwise":
            assert any(row["ai_winner"] == [] for row in dataset)  # battle 6: judged, but not validly
    first = datasets.load_dataset("parquet", data_files=str(tmp_path / "pairwise-drop.parquet"), split="train",
                                  cache_dir=str(tmp_path / "cache"))[0]
    assert first["ai_winner"] == [{"judge": "other", "verdict": "rejected"}, {"judge": "rule", "verdict": "chosen"}]


def test_datasheet_says_whose_labels_and_each_judges_agreement(judged: Store, tmp_path: Path) -> None:
    run_export(judged, "pairwise", tmp_path / "human" / "p.jsonl")
    card = (tmp_path / "human" / "README.md").read_text(encoding="utf-8")
    assert "Preference labels: chosen/rejected by the human vote." in card
    assert "| rule | 4 | 50.0% |" in card and "| other | 1 | 0.0% |" in card  # battles 1-4 decisive both ways, 1 and 4 agree
    run_export(judged, "pairwise", tmp_path / "ai" / "p.jsonl", ExportFilters(labels="ai:rule"))
    card = (tmp_path / "ai" / "README.md").read_text(encoding="utf-8")
    assert "by the AI judge rule (RLAIF)" in card and "| rule | 4 | 50.0% |" in card  # measured against the human votes
    run_export(judged, "pairwise", tmp_path / "agree" / "p.jsonl", ExportFilters(labels="agree:rule"))
    assert "where the human vote and the AI judge rule agree" in (tmp_path / "agree" / "README.md").read_text(encoding="utf-8")


def test_cli_refuses_unknown_judges_and_other_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'arena.sqlite3'}"
    monkeypatch.setenv("ARENA_DATABASE_URL", url)
    store = Store(url)
    store.insert_battles([battle(i, "alpha", "beta", winner) for i, winner in HUMAN.items()])
    _judge(store, "rule", RULE)
    store.close()
    out = tmp_path / "p.jsonl"
    assert main(["export", "--format", "pairwise", "--out", str(out), "--labels", "ai:nobody", "--no-progress"]) == 2
    assert "no judgements by 'nobody' in the store; judges with judgements: rule" in capsys.readouterr().err
    assert not out.exists()
    assert main(["export", "--format", "battles", "--out", str(out), "--labels", "ai:rule"]) == 2
    assert main(["export", "--format", "pairwise", "--out", str(out), "--labels", "judge"]) == 2
    assert "--labels must be human, ai:NAME, agree or agree:NAME" in capsys.readouterr().err
    assert main(["export", "--format", "pairwise", "--out", str(out), "--labels", "agree:rule", "--no-progress"]) == 0
    assert "wrote 2 pairwise rows" in capsys.readouterr().out
