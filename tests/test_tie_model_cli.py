"""``--tie-model`` and ``--simultaneous`` through the leaderboard service and ``python -m arena leaderboard``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from arena.cli import main
from arena.leaderboard import LeaderboardQuery, LeaderboardService
from arena.store import Store
from tests.helpers import records


@pytest.fixture
def voted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite store with 400 random votes (ties of both kinds among them), named by ARENA_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'arena.sqlite3'}"
    store = Store(url)
    store.insert_battles(records(store, 400))
    store.close()
    monkeypatch.setenv("ARENA_DATABASE_URL", url)
    return url


def test_unknown_tie_model_and_style_control_with_rao_kupper_are_refused() -> None:
    with pytest.raises(ValueError, match=r"tie_model: unknown value 'davidson'; allowed: bt, rao-kupper"):
        LeaderboardQuery(tie_model="davidson")
    with pytest.raises(ValueError, match="tie_model: style control fits Bradley–Terry only"):
        LeaderboardQuery(tie_model="rao-kupper", style_control=True)


def test_cli_refuses_an_unknown_tie_model_naming_the_flag_and_the_choices(voted: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["leaderboard", "--tie-model", "davidson"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--tie-model" in err and "'bt', 'rao-kupper'" in err
    assert main(["leaderboard", "--tie-model", "rao-kupper", "--style-control", "--models", "missing.yaml"]) == 2
    assert "style control fits Bradley–Terry only" in capsys.readouterr().err


def test_default_board_has_no_tie_or_simultaneous_columns(voted: str) -> None:
    store = Store(voted, migrate=False)
    try:
        board = LeaderboardService(store).get(LeaderboardQuery())
    finally:
        store.close()
    assert board.ratings.ties is None and not board.ratings.simultaneous
    assert not {"tie_theta", "simultaneous_low", "calibration_mae_bt"} & set(board.as_rows()[0])


def test_rao_kupper_board_follows_new_votes(voted: str) -> None:
    """Not kept incrementally like the plain board: recomputed when a vote arrives, so it still counts every vote."""
    store = Store(voted, migrate=False)
    try:
        service = LeaderboardService(store)
        query = LeaderboardQuery(tie_model="rao-kupper", simultaneous=True, rounds=20)
        first = service.get(query)
        assert service.get(query) is first  # cached while no vote arrives
        store.insert_battles(records(store, 30, seed=1))
        again = service.get(query)
        counted = LeaderboardService(store).compute(LeaderboardQuery()).ratings.total_votes
    finally:
        store.close()
    assert again.ratings.total_votes == counted > first.ratings.total_votes
    assert again.ratings.ties is not None and again.ratings.ties.theta > 1.0


def test_cli_reports_theta_calibration_and_joint_intervals_in_every_format(voted: str, capsys: pytest.CaptureFixture[str]) -> None:
    options = ["leaderboard", "--models", "missing.yaml", "--tie-model", "rao-kupper", "--simultaneous"]
    assert main([*options, "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    ties = payload["ties"]
    assert payload["tie_model"] == "rao-kupper" and payload["simultaneous"] is True
    assert 1.0 <= ties["theta_low"] <= ties["theta"] <= ties["theta_high"]
    assert set(ties["mae"]) == {"bt", "rao_kupper"} and ties["pairs"] and "pooled" in ties["bt_tie_rule"]
    assert sum(p["votes"] for p in ties["pairs"]) == payload["total_votes"]
    row = payload["rows"][0]
    assert row["simultaneous_low"] < row["ci_low"] <= row["score"] <= row["ci_high"] < row["simultaneous_high"]
    assert row["tie_theta"] == ties["theta"]

    assert main([*options, "--format", "csv"]) == 0
    parsed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {"tie_theta", "observed_tie_rate", "calibration_mae_bt", "calibration_mae_rk", "simultaneous_low"} <= set(parsed[0])
    assert float(parsed[0]["tie_theta"]) == ties["theta"]

    assert main(options) == 0
    table = capsys.readouterr().out
    assert "tie parameter θ" in table and "calibration MAE" in table and "(joint +" in table and "observed w/t/l" in table


def test_the_tab_summary_shows_theta_and_both_maes_only_for_a_rao_kupper_board(voted: str) -> None:
    from arena.ui.leaderboard_tab import summary_markdown

    store = Store(voted, migrate=False)
    try:
        service = LeaderboardService(store)
        plain, ties = service.get(LeaderboardQuery()), service.get(LeaderboardQuery(tie_model="rao-kupper", rounds=20))
    finally:
        store.close()
    assert "θ" not in summary_markdown(plain)
    text = summary_markdown(ties)
    assert ties.ratings.ties is not None and f"θ = {ties.ratings.ties.theta:.3f}" in text
    assert "calibration MAE Bradley–Terry" in text and "Rao–Kupper" in text
