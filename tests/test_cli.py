"""``python -m arena``: check-models exit codes and the leaderboard in three formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from arena.cli import main
from arena.service import vote_facts
from arena.store import Store
from tests.helpers import played
from tests.upstream import Upstream

VALID = "models:\n  - name: Local\n    backend: local\n    model: smollm2-135m-instruct\n"


def test_check_models_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid file exits 0 and says so."""
    path = tmp_path / "models.yaml"
    path.write_text(VALID)
    assert main(["check-models", str(path), "--no-probe"]) == 0
    assert "valid" in capsys.readouterr().out


def test_check_models_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid file exits 2 with the message on stderr."""
    path = tmp_path / "models.yaml"
    path.write_text(VALID + "    colour: red\n")
    assert main(["check-models", str(path)]) == 2
    assert "colour" in capsys.readouterr().err


def test_check_models_probe(tmp_path: Path, up: Upstream, capsys: pytest.CaptureFixture[str]) -> None:
    """--probe exits 0 when every endpoint serves its model, 1 when one does not."""
    path = tmp_path / "models.yaml"
    good = f"models:\n  - name: Remote\n    backend: openai\n    endpoints: [\"{up.url}\"]\n    model: test-model\n"
    path.write_text(good)
    assert main(["check-models", str(path)]) == 0  # probing is the default
    table = capsys.readouterr().out.splitlines()
    assert "valid" in table[0] and table[1].split() == ["model", "endpoint", "status", "latency", "served", "ids"]
    remote = next(line for line in table if line.startswith("Remote"))
    assert up.url in remote and " ok " in remote and " ms " in remote and remote.rstrip().endswith("test-model")
    path.write_text(good + "  - name: Gone\n    backend: openai\n    endpoints: [\"http://127.0.0.1:9/v1\"]\n    model: test-model\n")
    assert main(["check-models", str(path), "--probe"]) == 1
    captured = capsys.readouterr()
    gone = next(line for line in captured.out.splitlines() if line.startswith("Gone"))
    assert "http://127.0.0.1:9/v1" in gone and "failing (unreachable" in gone and "FAIL Gone" in captured.err


def test_leaderboard_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """table, json and csv print the same ranking from the store."""
    url = f"sqlite:///{tmp_path / 'arena.sqlite3'}"
    store = Store(url)
    for winner in ("model_a", "model_a", "model_b"):
        battle = played(store, models=("strong", "weak"))
        store.record_vote(battle.id, vote_facts(battle, winner), battle.judge_hash, 1.0)
    store.close()
    monkeypatch.setenv("ARENA_DATABASE_URL", url)
    models = tmp_path / "missing.yaml"

    assert main(["leaderboard", "--models", str(models), "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = payload["rows"]
    assert payload["category"] == "overall" and payload["total_votes"] == 3
    assert [r["model"] for r in rows] == ["strong", "weak"] and rows[0]["votes"] == 3
    assert rows[0]["ci_low"] <= rows[0]["score"] <= rows[0]["ci_high"]

    assert main(["leaderboard", "--models", str(models), "--format", "csv"]) == 0
    parsed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert parsed[0]["model"] == "strong" and float(parsed[0]["score"]) == pytest.approx(rows[0]["score"])

    assert main(["leaderboard", "--models", str(models)]) == 0
    table = capsys.readouterr().out
    assert table.index("strong") < table.index("weak")
