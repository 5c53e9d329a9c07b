"""Multi-turn battles as DPO needs them: only the final answers are completions (``--turns last``), ``--max-turns``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arena.cli import main
from arena.export import ExportFilters, run_export
from arena.store import Store
from tests.helpers import battle


def load_rows(path: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines()]


def dpo_tokenised(rows: list[dict[str, Any]], tokenizer: Any, tmp_path: Path) -> list[dict[str, str]]:
    """The rows as TRL's DPOTrainer tokenises them (a tiny model built from the embedded one's config), decoded."""
    import datasets
    from transformers import AutoConfig, AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    config = AutoConfig.from_pretrained(tokenizer.name_or_path)
    config.update({"num_hidden_layers": 1, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                   "num_key_value_heads": 1, "head_dim": 16})
    columns = [{key: row[key] for key in ("prompt", "chosen", "rejected")} for row in rows]
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_config(config), processing_class=tokenizer,
                         args=DPOConfig(output_dir=str(tmp_path / "dpo"), report_to=[], use_cpu=True, bf16=False),
                         train_dataset=datasets.Dataset.from_list(columns))
    return [{part: tokenizer.decode(row[f"{part}_ids"]) for part in ("prompt", "chosen", "rejected")} for row in trainer.train_dataset]


def test_dpo_trains_on_the_final_answers_only_by_default(store: Store, tmp_path: Path, tokenizer: Any) -> None:
    """A two-turn battle: the follow-up and the first answers are prompt; chosen and rejected are the last answers."""
    store.insert_battles([battle(0, "alpha", "beta", "model_a", turns=2), battle(1, "gamma", "beta", "model_b")])
    run_export(store, "pairwise", tmp_path / "last.jsonl", datasheet=False)
    rows = {row["battle_id"]: row for row in load_rows(tmp_path / "last.jsonl")}
    two_turns = rows[f"{0:032x}"]
    assert [m["role"] for m in two_turns["prompt"]] == ["user", "assistant", "user"]  # the winner's history
    assert two_turns["chosen"] == [{"role": "assistant", "content": "alpha answers 0.1"}]
    assert two_turns["rejected"] == [{"role": "assistant", "content": "beta answers 0.1"}]
    tokenised = dpo_tokenised(list(rows.values()), tokenizer, tmp_path)
    for row in tokenised:
        assert "user" not in row["chosen"] and "user" not in row["rejected"]  # never trained to write the voter's turn
    assert "Follow-up 1 of 0" in tokenised[0]["prompt"] and "alpha answers 0.1" in tokenised[0]["chosen"]

    run_export(store, "pairwise", tmp_path / "all.jsonl", ExportFilters(turns="all"), datasheet=False)
    whole = [row for row in load_rows(tmp_path / "all.jsonl") if row["battle_id"] == f"{0:032x}"]
    assert "Follow-up 1 of 0" in dpo_tokenised(whole, tokenizer, tmp_path)[0]["chosen"]  # what --turns all gives DPO


def test_kto_rows_take_each_sides_own_history_as_prompt(store: Store, tmp_path: Path) -> None:
    store.insert_battles([battle(0, "alpha", "beta", "tie", turns=3)])
    run_export(store, "pairwise", tmp_path / "kto.jsonl", ties="kto", datasheet=False)
    rows = load_rows(tmp_path / "kto.jsonl")
    assert [row["completion"] for row in rows] == [[{"role": "assistant", "content": f"{m} answers 0.2"}] for m in ("alpha", "beta")]
    for row, model in zip(rows, ("alpha", "beta")):
        assert [m["content"] for m in row["prompt"] if m["role"] == "assistant"] == [f"{model} answers 0.0", f"{model} answers 0.1"]


def test_max_turns_keeps_single_turn_pairs(store: Store, tmp_path: Path) -> None:
    store.insert_battles([battle(i, "alpha", "beta", "model_a", turns=1 + i % 3) for i in range(9)])
    summary = run_export(store, "pairwise", tmp_path / "one.jsonl", ExportFilters(max_turns=1), datasheet=False)
    rows = load_rows(tmp_path / "one.jsonl")
    assert len(rows) == 3 and all(len(row["prompt"]) == 1 == len(row["chosen"]) == len(row["rejected"]) for row in rows)
    assert summary.drops["more turns than --max-turns"] == 6
    assert "at most 1 turn" in ExportFilters(max_turns=1).describe()


@pytest.mark.parametrize(("flags", "message"), [
    (["--max-turns", "0"], "--max-turns (0) must be at least --min-turns (1)"),
    (["--min-turns", "3", "--max-turns", "2"], "--max-turns (2) must be at least --min-turns (3)"),
    (["--turns", "first"], "invalid choice: 'first'"),
])
def test_bad_turn_flags_are_refused_with_the_fix(flags: list[str], message: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["export", "--format", "pairwise", "--out", str(tmp_path / "p.jsonl"), *flags])
    except SystemExit as exit_:  # argparse's own refusal of a choice
        code = exit_.code
    assert code == 2 and message in capsys.readouterr().err
