"""Bradley–Terry from aggregated counts: right answer, finite in the hard cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from arena.ratings import (
    DEFAULT_PRIOR,
    SCALE,
    fit_bradley_terry,
    leaderboard,
    win_matrix,
)


@dataclass(frozen=True)
class O:
    model_a: str
    model_b: str
    winner: str
    count: int


def synthetic(strengths: dict[str, float], n: int, seed: int = 0) -> list[O]:
    rng = np.random.default_rng(seed)
    names = list(strengths)
    counts: dict[tuple[str, str, str], int] = {}
    for _ in range(n):
        a, b = rng.choice(len(names), size=2, replace=False)
        p = 1 / (1 + np.exp(-(strengths[names[a]] - strengths[names[b]])))
        winner = "model_a" if rng.random() < p else "model_b"
        key = (names[a], names[b], winner)
        counts[key] = counts.get(key, 0) + 1
    return [O(a, b, w, c) for (a, b, w), c in counts.items()]


def scipy_fit(wins: np.ndarray, prior: float) -> np.ndarray:
    games = wins + wins.T

    def negative_log_posterior(theta: np.ndarray) -> tuple[float, np.ndarray]:
        diff = theta[:, None] - theta[None, :]
        log_p = -np.logaddexp(0, -diff)
        p = np.exp(log_p)
        value = -(wins * log_p).sum() + 0.5 * prior * theta @ theta
        grad = -(wins - games * p).sum(axis=1) + prior * theta
        return value, grad

    result = minimize(negative_log_posterior, np.zeros(len(wins)), jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000})
    return result.x - result.x.mean()


def test_recovers_known_strengths() -> None:
    """Fitted logits match the generating strengths within sampling error."""
    truth = {"a": 1.0, "b": 0.5, "c": 0.0, "d": -1.5}
    models, wins = win_matrix(synthetic(truth, 40_000))
    theta = fit_bradley_terry(wins)
    expected = np.array([truth[m] for m in models])
    assert np.allclose(theta, expected - expected.mean(), atol=0.06)


def test_agrees_with_independent_scipy_fit() -> None:
    """Newton and scipy L-BFGS on the same likelihood agree to 0.01 arena points."""
    _, wins = win_matrix(synthetic({"a": 0.3, "b": 0.1, "c": -0.2, "e": 0.8}, 3000, seed=3))
    ours = fit_bradley_terry(wins) * SCALE
    theirs = scipy_fit(wins, DEFAULT_PRIOR) * SCALE
    assert np.max(np.abs(ours - theirs)) < 0.01


def test_ties_are_half_wins() -> None:
    """Only ties between two models give equal scores; a tie adds half a win to each."""
    models, wins = win_matrix([O("x", "y", "tie", 10), O("x", "y", "tie (bothbad)", 4)])
    assert wins[0, 1] == wins[1, 0] == 7
    rows = leaderboard([O("x", "y", "tie", 10)])
    assert abs(rows[0].score - rows[1].score) < 1e-9


def test_no_votes() -> None:
    """No votes, no rows, no crash."""
    assert leaderboard([]) == []


def test_all_wins_stays_finite() -> None:
    """A model that only wins gets a finite, top score thanks to the prior."""
    rows = leaderboard([O("champ", "b", "model_a", 50), O("b", "c", "model_a", 5), O("c", "b", "model_a", 5)])
    assert rows[0].model == "champ" and np.isfinite(rows[0].score)


def test_disconnected_groups_stay_finite() -> None:
    """Two groups that never met still get finite scores."""
    rows = leaderboard([O("a", "b", "model_a", 10), O("c", "d", "model_b", 10)])
    assert len(rows) == 4 and all(np.isfinite(r.score) for r in rows)


def test_min_votes_hides_thin_models() -> None:
    """Models below the vote threshold are hidden."""
    outcomes = [O("a", "b", "model_a", 30), O("a", "c", "model_a", 1)]
    assert {r.model for r in leaderboard(outcomes, min_votes=5)} == {"a", "b"}


def test_gradient_matches_finite_differences() -> None:
    """At the optimum the gradient of the penalised likelihood is zero (checked numerically)."""
    _, wins = win_matrix(synthetic({"a": 0.4, "b": 0.0, "c": -0.4}, 500, seed=9))
    theta = fit_bradley_terry(wins)

    def objective(t: np.ndarray) -> float:
        diff = t[:, None] - t[None, :]
        return float((wins * -np.logaddexp(0, -diff)).sum() - 0.5 * DEFAULT_PRIOR * t @ t)

    eps = 1e-6
    for i in range(3):
        step = np.zeros(3)
        step[i] = eps
        assert abs((objective(theta + step) - objective(theta - step)) / (2 * eps)) < 1e-4
