"""Rao–Kupper (ties as ties) and the calibration table, each checked against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from arena.ratings import (
    DEFAULT_PRIOR,
    SCALE,
    Comparisons,
    PairOutcomes,
    RaoKupperFit,
    calibrate,
    compute_ratings,
    fit_bradley_terry,
    fit_rao_kupper,
    rao_kupper_bootstrap,
    rao_kupper_log_likelihood,
    rao_kupper_sandwich,
)
from tests.helpers import O

# Three models, both tie kinds, every pair in both seatings: (model_a, model_b, winner, count).
SMALL = [
    O("a", "b", "model_a", 30), O("a", "b", "tie", 10), O("a", "b", "model_b", 12), O("b", "a", "tie (bothbad)", 3),
    O("b", "c", "model_a", 20), O("b", "c", "tie (bothbad)", 15), O("c", "b", "model_a", 9),
    O("a", "c", "model_a", 25), O("a", "c", "tie", 4), O("c", "a", "model_a", 3),
]


def hand_log_likelihood(rows: list[O], strength: dict[str, float], tie: float) -> float:
    """Σ count · log P(outcome), written from the model's definition with π = e^β:
    P(i beats j) = π_i / (π_i + θ π_j), P(tie) = (θ² − 1) π_i π_j / ((π_i + θ π_j)(π_j + θ π_i))."""
    total = 0.0
    for row in rows:
        pi, pj = math.exp(strength[row.model_a]), math.exp(strength[row.model_b])
        if row.winner == "model_a":
            p = pi / (pi + tie * pj)
        elif row.winner == "model_b":
            p = pj / (pj + tie * pi)
        else:
            p = (tie**2 - 1) * pi * pj / ((pi + tie * pj) * (pj + tie * pi))
        total += row.count * math.log(p)
    return total


def simulate_rao_kupper(beta: np.ndarray, tie: float, n: int, rng: np.random.Generator) -> Comparisons:
    """Aggregated votes of *n* random battles drawn from Rao–Kupper with logits *beta* and tie parameter *tie*."""
    k = len(beta)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    win = 1 / (1 + tie * np.exp(beta[b] - beta[a]))
    loss = 1 / (1 + tie * np.exp(beta[a] - beta[b]))
    u = rng.random(n)
    outcome = np.where(u < win, 0, np.where(u < win + loss, 1, 2))
    keys, counts = np.unique(np.stack([a, b, outcome], axis=1), axis=0, return_counts=True)
    winners = ["model_a", "model_b", "tie"]
    return Comparisons.from_outcomes([O(f"m{i}", f"m{j}", winners[w], int(c)) for (i, j, w), c in zip(keys, counts)])


def test_log_likelihood_matches_the_hand_computation() -> None:
    """The softplus form the fit maximises equals the textbook π/θ form, at several points, for both tie kinds."""
    comparisons = Comparisons.from_outcomes(SMALL)
    pairs = PairOutcomes.of(comparisons)
    for beta, tie in [((0.0, 0.0, 0.0), 1.5), ((0.8, -0.1, -0.7), 1.8), ((-0.3, 0.9, -0.6), 3.0)]:
        strength = dict(zip(comparisons.models, beta))
        assert rao_kupper_log_likelihood(pairs, np.array(beta), math.log(tie), prior=0.0) == pytest.approx(
            hand_log_likelihood(SMALL, strength, tie), rel=1e-12)


def test_fit_is_the_optimum_scipy_finds_on_the_hand_written_likelihood() -> None:
    comparisons = Comparisons.from_outcomes(SMALL)
    names = comparisons.models

    def objective(x: np.ndarray) -> float:  # the same ridge: ½ prior (‖β‖² + (log θ)²)
        return -hand_log_likelihood(SMALL, dict(zip(names, x[:3])), math.exp(x[3])) + 0.5 * DEFAULT_PRIOR * (x @ x)

    result = minimize(objective, np.array([0.0, 0.0, 0.0, 0.5]), method="L-BFGS-B", bounds=[(None, None)] * 3 + [(1e-9, None)],
                      options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000})
    fit = fit_rao_kupper(comparisons)
    assert fit.theta == pytest.approx(result.x[:3] - result.x[:3].mean(), abs=1e-5)
    assert fit.tie == pytest.approx(math.exp(result.x[3]), abs=1e-5)
    assert fit.tie > 1.0 and fit.theta[names.index("a")] > fit.theta[names.index("b")] > fit.theta[names.index("c")]


def test_without_ties_theta_is_one_and_the_fit_is_bradley_terry_on_the_decisive_votes() -> None:
    decisive = [o for o in SMALL if not o.winner.startswith("tie")]
    comparisons = Comparisons.from_outcomes(decisive)
    fit = fit_rao_kupper(comparisons)
    assert fit.tie == 1.0
    assert fit.theta == pytest.approx(fit_bradley_terry(comparisons.win_matrix()), abs=1e-8)


def test_theta_falls_to_one_as_ties_vanish() -> None:
    """θ grows with the tie rate and tends to 1 as ties become rare."""
    base = [o for o in SMALL if not o.winner.startswith("tie")]
    thetas = [fit_rao_kupper(Comparisons.from_outcomes([*base, O("a", "b", "tie", k)])).tie for k in (40, 10, 1)]
    assert thetas[0] > thetas[1] > thetas[2] > 1.0
    assert thetas[2] < 1.05
    many = [O(o.model_a, o.model_b, o.winner, o.count * 1000) for o in base] + [O("a", "b", "tie", 1)]
    assert 1.0 < fit_rao_kupper(Comparisons.from_outcomes(many)).tie < 1.001


def test_fit_recovers_simulated_strengths_and_tie_parameter() -> None:
    rng = np.random.default_rng(4)
    beta = np.array([0.9, 0.4, 0.0, -0.5, -0.8])
    comparisons = simulate_rao_kupper(beta, 1.7, 40_000, rng)
    fit = fit_rao_kupper(comparisons)
    truth = np.array([beta[int(m[1:])] for m in comparisons.models])
    assert fit.theta == pytest.approx(truth - truth.mean(), abs=0.04)
    assert fit.tie == pytest.approx(1.7, abs=0.03)


def test_sandwich_and_bootstrap_agree_on_the_spread() -> None:
    """Two independent routes to the uncertainty of (β, η): the robust covariance and 200 refitted resamples."""
    comparisons = simulate_rao_kupper(np.array([0.6, 0.1, -0.2, -0.5]), 1.5, 6_000, np.random.default_rng(1))
    fit = fit_rao_kupper(comparisons)
    sandwich = np.sqrt(np.diag(rao_kupper_sandwich(PairOutcomes.of(comparisons), fit)))
    samples = rao_kupper_bootstrap(comparisons, fit, rounds=200, seed=3)
    assert samples.shape == (200, comparisons.n_models + 1)
    assert samples.std(axis=0) == pytest.approx(sandwich, rel=0.2)


def test_bootstrap_rounds_are_the_optimum_of_their_resample() -> None:
    """The batched chord refits land where Newton's method lands on a resample (here: the full data, drawn exactly)."""
    comparisons = simulate_rao_kupper(np.array([0.5, 0.0, -0.5]), 1.4, 3_000, np.random.default_rng(2))
    fit = fit_rao_kupper(comparisons)
    samples = rao_kupper_bootstrap(comparisons, fit, rounds=4, seed=0)
    merged = comparisons.merged()
    from arena.ratings.bootstrap import _poisson_fill, _split_rounds

    draws = np.concatenate([_poisson_fill(g, int(merged.count.sum()), merged.count / merged.count.sum(), s) for g, s in _split_rounds(4, 0)])
    for draw, sample in zip(draws, samples):
        again = fit_rao_kupper(Comparisons(merged.models, merged.a, merged.b, merged.score, draw.astype(float)))
        assert sample[:-1] == pytest.approx(again.theta, abs=1e-5) and sample[-1] == pytest.approx(again.log_tie, abs=1e-5)


def test_calibration_mae_by_hand() -> None:
    """Two pairs, fixed parameters: every predicted rate and both MAEs written out from the definitions."""
    rows = [O("a", "b", "model_a", 6), O("a", "b", "tie", 2), O("a", "b", "model_b", 2), O("b", "c", "model_a", 1), O("b", "c", "tie", 3)]
    comparisons = Comparisons.from_outcomes(rows)
    bt = np.array([0.5, 0.0, -0.5])
    rk = RaoKupperFit(np.array([0.4, 0.0, -0.4]), math.log(2.0))
    calibration = calibrate(comparisons, bt, rk)

    tau = 5 / 14  # pooled tie rate: 5 ties in 14 votes
    s = 1 / (1 + math.exp(-0.5))  # BT: P(a beats b) = P(b beats c) with ties aside
    bt_pred = [(1 - tau) * s, tau, (1 - tau) * (1 - s)]
    pa, pb, pc = math.exp(0.4), 1.0, math.exp(-0.4)
    rk_ab = [pa / (pa + 2 * pb), 3 * pa * pb / ((pa + 2 * pb) * (pb + 2 * pa)), pb / (pb + 2 * pa)]
    rk_bc = [pb / (pb + 2 * pc), 3 * pb * pc / ((pb + 2 * pc) * (pc + 2 * pb)), pc / (pc + 2 * pb)]
    observed_ab, observed_bc = [0.6, 0.2, 0.2], [0.25, 0.75, 0.0]

    def mae(pred_ab: list[float], pred_bc: list[float]) -> float:
        err_ab = sum(abs(p - o) for p, o in zip(pred_ab, observed_ab)) / 3
        err_bc = sum(abs(p - o) for p, o in zip(pred_bc, observed_bc)) / 3
        return (10 * err_ab + 4 * err_bc) / 14

    assert calibration.pooled_tie_rate == pytest.approx(tau)
    assert calibration.mae(calibration.bradley_terry) == pytest.approx(mae(bt_pred, bt_pred), abs=1e-12)
    assert calibration.mae(calibration.rao_kupper) == pytest.approx(mae(rk_ab, rk_bc), abs=1e-12)
    score_bt = (10 * abs(bt_pred[0] + bt_pred[1] / 2 - 0.7) + 4 * abs(bt_pred[0] + bt_pred[1] / 2 - 0.625)) / 14
    assert calibration.score_mae(calibration.bradley_terry) == pytest.approx(score_bt, abs=1e-12)
    first = calibration.rows()[0]
    assert (first["model_a"], first["model_b"], first["votes"], first["observed_tie"]) == ("a", "b", 10, 0.2)


def test_rao_kupper_calibrates_better_when_ties_follow_it() -> None:
    """On an arena whose ties come from Rao–Kupper (fewer between mismatched models), its MAE beats BT's."""
    comparisons = simulate_rao_kupper(np.linspace(1.5, -1.5, 8), 1.8, 80_000, np.random.default_rng(7))
    ratings = compute_ratings(comparisons, tie_model="rao-kupper", rounds=20)
    assert ratings.ties is not None and ratings.tie_model == "rao-kupper"
    calibration = ratings.ties.calibration
    assert calibration.mae(calibration.rao_kupper) < 0.6 * calibration.mae(calibration.bradley_terry)
    assert ratings.ties.theta_low < ratings.ties.theta < ratings.ties.theta_high and ratings.ties.theta == pytest.approx(1.8, abs=0.03)
    scores = {row.model: row.score for row in ratings.rows}
    fit = fit_rao_kupper(comparisons)
    assert scores["m0"] - scores["m7"] == pytest.approx(SCALE * (fit.theta[0] - fit.theta[-1]))


def test_unknown_tie_model_is_refused_with_the_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"tie_model: unknown value 'davidson'; allowed: bt, rao-kupper"):
        compute_ratings(Comparisons.from_outcomes(SMALL), tie_model="davidson")
