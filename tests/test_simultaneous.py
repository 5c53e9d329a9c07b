"""Simultaneous intervals: simulated coverage of all models at once, and Rank (UB) computed from them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from arena.ratings import SCALE, Comparisons, compute_ratings, rank_upper_bound, simultaneous_multiplier
from tests.helpers import O

TRUTH = np.array([0.8, 0.5, 0.2, 0.0, -0.4, -1.1])  # logits of m0 … m5
REPS = 300


def arena(rng: np.random.Generator, votes: int, tie: float | None) -> Comparisons:
    """One simulated arena: Bradley–Terry without ties (*tie* None) or Rao–Kupper with tie parameter *tie*."""
    k = len(TRUTH)
    a = rng.integers(0, k, votes)
    b = (a + rng.integers(1, k, votes)) % k
    theta = 1.0 if tie is None else tie
    win = 1 / (1 + theta * np.exp(TRUTH[b] - TRUTH[a]))
    loss = 1 / (1 + theta * np.exp(TRUTH[a] - TRUTH[b]))
    u = rng.random(votes)
    outcome = np.where(u < win, 0, np.where(u < win + loss, 1, 2))
    keys, counts = np.unique(np.stack([a, b, outcome], axis=1), axis=0, return_counts=True)
    return Comparisons.from_outcomes([O(f"m{i}", f"m{j}", ["model_a", "model_b", "tie"][w], int(c)) for (i, j, w), c in zip(keys, counts)])


def coverage(tie_model: str, tie: float | None, ci_method: str = "sandwich", rounds: int = 0, reps: int = REPS) -> dict[str, float]:
    """Share of *reps* seeded arenas in which every model's true (centred) score lies in its interval, both kinds."""
    rng = np.random.default_rng(2024)
    truth = {f"m{i}": 1000 + SCALE * (t - TRUTH.mean()) for i, t in enumerate(TRUTH)}
    joint = per_model_all = per_model_each = 0.0
    for _ in range(reps):
        rows = compute_ratings(arena(rng, 1200, tie), tie_model=tie_model, ci_method=ci_method, rounds=rounds, simultaneous=True).rows
        joint += all(r.simultaneous_low <= truth[r.model] <= r.simultaneous_high for r in rows)  # type: ignore[operator]
        inside = [r.ci_low <= truth[r.model] <= r.ci_high for r in rows]
        per_model_all += all(inside)
        per_model_each += float(np.mean(inside))
    return {"joint": joint / reps, "per_model_all": per_model_all / reps, "per_model_each": per_model_each / reps}


def test_the_multiplier_is_the_chi_square_quantile_with_m_minus_1_degrees() -> None:
    assert simultaneous_multiplier(6) ** 2 == pytest.approx(chi2.ppf(0.95, 5))
    assert simultaneous_multiplier(2) == pytest.approx(1.959964, abs=1e-6)  # one contrast: the usual 95 % interval


@pytest.mark.parametrize("tie_model, tie", [("bt", None), ("rao-kupper", 1.6)])
def test_simultaneous_intervals_cover_all_models_at_once_and_per_model_ones_do_not(tie_model: str, tie: float | None) -> None:
    """300 arenas of 6 models and 1,200 votes from known strengths (seeded).

    Each per-model interval covers its own model about 95 % of the time, but all
    six are covered together far less often: six chances to miss. The ellipsoid's
    projections cover all six at once in at least 95 % of the arenas.
    """
    result = coverage(tie_model, tie)
    assert result["joint"] >= 0.95
    assert 0.92 <= result["per_model_each"] <= 0.98
    assert result["per_model_all"] < 0.9 < result["joint"]


def test_bootstrap_simultaneous_intervals_cover_too() -> None:
    """With ci_method bootstrap the ellipsoid uses the rounds' covariance; fewer arenas, the same guarantee."""
    result = coverage("bt", None, ci_method="bootstrap", rounds=50, reps=100)
    assert result["joint"] >= 0.95 and result["per_model_all"] < result["joint"]


def test_rank_ub_uses_the_simultaneous_intervals_when_asked() -> None:
    """Two models apart by more than their per-model intervals but within the joint ones share a rank only jointly."""
    comparisons = arena(np.random.default_rng(5), 3000, None)
    plain = compute_ratings(comparisons, ci_method="sandwich", rounds=0)
    joint = compute_ratings(comparisons, ci_method="sandwich", rounds=0, simultaneous=True)
    assert [r.model for r in plain.rows] == [r.model for r in joint.rows]
    assert all(r.simultaneous_low is None for r in plain.rows)
    low = np.array([r.simultaneous_low for r in joint.rows])
    high = np.array([r.simultaneous_high for r in joint.rows])
    assert [r.rank for r in joint.rows] == rank_upper_bound(low, high).tolist()
    assert [r.rank for r in plain.rows] == rank_upper_bound(np.array([r.ci_low for r in plain.rows]), np.array([r.ci_high for r in plain.rows])).tolist()
    assert sum(r.rank for r in joint.rows) < sum(r.rank for r in plain.rows)  # wider intervals, fewer models provably ahead
    per_model = np.array([r.ci_high - r.ci_low for r in joint.rows])
    assert high - low == pytest.approx(per_model * simultaneous_multiplier(6) / 1.959964, rel=1e-5)
    assert any("simultaneous" in note for note in joint.notes)
