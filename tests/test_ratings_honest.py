"""Honest intervals: unbounded where the votes are one-sided, never narrower than the record supports, always around the score."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import beta

from arena.ratings import SCALE, Comparisons, compute_ratings
from arena.ratings.honest import honest_bounds
from tests.helpers import O


def clopper_pearson_lower_logit(successes: int) -> float:
    """The exact 95 % lower bound on a win probability after *successes* wins in as many battles, as a logit in arena points."""
    p = beta.ppf(0.025, successes, 1)
    return SCALE * math.log(p / (1 - p))


def test_one_vote_gives_wide_intervals_around_both_scores_and_no_ranking() -> None:
    ratings = compute_ratings(Comparisons.from_outcomes([O("x", "y", "model_a", 1)]), rounds=50, provisional_votes=300)
    winner, loser = ratings.rows
    assert (winner.model, loser.model) == ("x", "y")
    assert winner.ci_high == math.inf and loser.ci_low == -math.inf  # the open sides
    # The closed sides: one win says the win probability is at least 2.5 %: about 640 points below the opponent.
    assert winner.ci_low == pytest.approx(loser.score + clopper_pearson_lower_logit(1))
    assert loser.ci_high == pytest.approx(winner.score - clopper_pearson_lower_logit(1))
    assert winner.ci_low < winner.score and loser.ci_high > loser.score
    assert winner.rank == loser.rank == 1  # one vote orders nothing beyond doubt
    assert winner.provisional and loser.provisional


def test_fifty_straight_wins_bound_the_lower_side_by_the_exact_binomial() -> None:
    bounds_low, bounds_high = honest_bounds(np.array([1300.0, 900.0]), np.array([1299.0, 880.0]), np.array([1301.0, 920.0]),
                                            np.array([[0.0, 50.0], [0.0, 0.0]]))
    assert bounds_high[0] == math.inf and bounds_low[1] == -math.inf
    assert bounds_low[0] == pytest.approx(min(1299.0, 900.0 + clopper_pearson_lower_logit(50)))
    assert bounds_high[1] == pytest.approx(max(920.0, 1300.0 - clopper_pearson_lower_logit(50)))


def test_mixed_records_keep_their_interval_and_it_always_holds_the_score() -> None:
    wins = np.array([[0.0, 6.0], [4.0, 0.0]])
    low, high = honest_bounds(np.array([1030.0, 970.0]), np.array([990.0, 971.0]), np.array([1070.0, 1010.0]), wins)
    assert list(low) == [990.0, 970.0] and list(high) == [1070.0, 1010.0]  # y's interval stretched to its own score


def test_provisional_threshold_and_mixed_data_on_a_real_fit() -> None:
    outcomes = [O("x", "y", "model_a", 30), O("x", "y", "model_b", 10), O("y", "z", "model_a", 3), O("z", "y", "model_a", 2)]
    ratings = compute_ratings(Comparisons.from_outcomes(outcomes), rounds=50, provisional_votes=20)
    by_model = {row.model: row for row in ratings.rows}
    assert {m: r.provisional for m, r in by_model.items()} == {"x": False, "y": False, "z": True}  # 40, 45 and 5 votes
    for row in ratings.rows:
        assert math.isfinite(row.ci_low) and math.isfinite(row.ci_high) and row.ci_low <= row.score <= row.ci_high


def test_the_json_and_text_never_print_a_negative_side(tmp_path, monkeypatch, capsys) -> None:
    from arena.cli import main
    from arena.store import Store
    from tests.helpers import battle

    url = f"sqlite:///{tmp_path / 'arena.sqlite3'}"
    store = Store(url)
    store.insert_battles([battle(1, "alpha", "beta", "model_a")])
    store.close()
    monkeypatch.setenv("ARENA_DATABASE_URL", url)
    assert main(["leaderboard", "--format", "json", "--models", str(tmp_path / "none.yaml")]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["model"], r["ci_plus"] is None, r["ci_minus"] is None, r["provisional"]) for r in rows] == [
        ("alpha", True, False, True), ("beta", False, True, True)]
    assert all(r["ci_minus"] is None or r["ci_minus"] > 0 for r in rows) and all(r["ci_plus"] is None or r["ci_plus"] > 0 for r in rows)
    assert main(["leaderboard", "--models", str(tmp_path / "none.yaml")]) == 0
    text = capsys.readouterr().out
    assert "+∞ / -" in text and "/ -∞" in text and "--" not in text and "+-" not in text and "(provisional)" in text
