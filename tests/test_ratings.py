"""The rating maths: Bradley–Terry, intervals, ranks, Elo and style control, tested as maths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from arena.ratings import (
    DEFAULT_PRIOR,
    SCALE,
    Comparisons,
    bootstrap_logits,
    compute_ratings,
    fit_bradley_terry,
    fit_style_control,
    online_elo,
    rank_upper_bound,
    sandwich_covariance,
    style_design,
)
from tests.helpers import O


def simulate(strengths: dict[str, float], n: int, rng: np.random.Generator, tie_rate: float = 0.0) -> list[O]:
    """Aggregated outcomes of *n* random battles between models of known logit strength."""
    names = list(strengths)
    theta = np.array([strengths[m] for m in names])
    a = rng.integers(0, len(names), n)
    b = (a + rng.integers(1, len(names), n)) % len(names)
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    u = rng.random(n)
    tie = rng.random(n) < tie_rate
    outcome = np.where(tie, 2, np.where(u < p, 0, 1))
    keys, counts = np.unique(np.stack([a, b, outcome], axis=1), axis=0, return_counts=True)
    winners = ["model_a", "model_b", "tie"]
    return [O(names[i], names[j], winners[w], int(c)) for (i, j, w), c in zip(keys, counts)]


def scipy_fit(wins: np.ndarray, prior: float) -> np.ndarray:
    """An independent fit of the same penalised likelihood with scipy's L-BFGS."""
    games = wins + wins.T

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        diff = theta[:, None] - theta[None, :]
        log_p = -np.logaddexp(0, -diff)
        value = -(wins * log_p).sum() + 0.5 * prior * theta @ theta
        grad = -(wins - games * np.exp(log_p)).sum(axis=1) + prior * theta
        return value, grad

    result = minimize(objective, np.zeros(len(wins)), jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000})
    return result.x - result.x.mean()


TRUTH = {"a": 1.0, "b": 0.5, "c": 0.0, "d": -0.3, "e": -1.2}


def centred(comparisons: Comparisons, truth: dict[str, float]) -> np.ndarray:
    values = np.array([truth[m] for m in comparisons.models])
    return values - values.mean()


def test_recovers_known_strengths_within_sampling_error() -> None:
    """Fitted logits are within four standard errors of the generating strengths."""
    comparisons = Comparisons.from_outcomes(simulate(TRUTH, 30_000, np.random.default_rng(1)))
    theta = fit_bradley_terry(comparisons.win_matrix())
    covariance = sandwich_covariance(comparisons, theta)
    centre = np.eye(5) - 0.2
    se = np.sqrt(np.diag(centre @ covariance @ centre.T))
    assert np.all(np.abs(theta - centred(comparisons, TRUTH)) < 4 * se)


def test_agrees_with_independent_scipy_fit() -> None:
    """Newton and scipy L-BFGS on the same likelihood agree to 0.01 arena points."""
    comparisons = Comparisons.from_outcomes(simulate(TRUTH, 4_000, np.random.default_rng(2), tie_rate=0.2))
    wins = comparisons.win_matrix()
    ours = fit_bradley_terry(wins) * SCALE
    theirs = scipy_fit(wins, DEFAULT_PRIOR) * SCALE
    assert np.max(np.abs(ours - theirs)) < 0.01


def test_agrees_with_choix_on_the_same_penalised_likelihood() -> None:
    """choix's MAP pairwise fit (an outside implementation) gives the same scores to 0.01 points, ties included.

    choix takes whole comparisons only, so every battle enters twice: a win as
    two wins, a tie as one win each way. That doubles the log-likelihood,
    which choix's penalty ``alpha * sum(theta**2)`` matches at alpha = prior.
    """
    import choix

    comparisons = Comparisons.from_outcomes(simulate(TRUTH, 2_000, np.random.default_rng(5), tie_rate=0.25))
    doubled = np.rint(2 * comparisons.win_matrix()).astype(int)
    data = [(i, j) for i, j in zip(*np.nonzero(doubled)) for _ in range(doubled[i, j])]
    theirs = choix.opt_pairwise(len(comparisons.models), data, alpha=DEFAULT_PRIOR, method="Newton-CG", tol=1e-12)
    ours = fit_bradley_terry(comparisons.win_matrix())
    assert np.max(np.abs(ours - (theirs - theirs.mean()))) * SCALE < 0.01


def test_gradient_is_zero_at_the_optimum() -> None:
    """Finite differences of the penalised log-likelihood vanish at the fit."""
    wins = Comparisons.from_outcomes(simulate(TRUTH, 800, np.random.default_rng(3))).win_matrix()
    theta = fit_bradley_terry(wins)

    def objective(t: np.ndarray) -> float:
        return float((wins * -np.logaddexp(0, -(t[:, None] - t[None, :]))).sum() - 0.5 * DEFAULT_PRIOR * t @ t)

    for i in range(len(theta)):
        step = np.zeros(len(theta))
        step[i] = 1e-6
        assert abs((objective(theta + step) - objective(theta - step)) / 2e-6) < 1e-4


def coverage(method: str, replications: int, votes: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits = total = 0
    for r in range(replications):
        comparisons = Comparisons.from_outcomes(simulate(TRUTH, votes, rng))
        ratings = compute_ratings(comparisons, rounds=100, seed=r, ci_method=method)
        truth = dict(zip(comparisons.models, 1000 + SCALE * centred(comparisons, TRUTH)))
        for row in ratings.rows:
            hits += row.ci_low <= truth[row.model] <= row.ci_high
            total += 1
    return hits / total


def test_sandwich_intervals_cover_at_the_nominal_rate() -> None:
    """Over 200 simulated arenas, 95% sandwich intervals cover the truth about 95% of the time."""
    assert 0.92 <= coverage("sandwich", 200, 2_000, seed=10) <= 0.98


def test_bootstrap_intervals_cover_at_the_nominal_rate() -> None:
    """Over 60 simulated arenas, 95% bootstrap intervals cover the truth about 95% of the time."""
    assert 0.90 <= coverage("bootstrap", 60, 2_000, seed=11) <= 0.99


def test_bootstrap_and_sandwich_widths_agree_on_large_samples() -> None:
    """With 200k votes the two interval widths agree within 10% (on average over models)."""
    comparisons = Comparisons.from_outcomes(simulate(TRUTH, 200_000, np.random.default_rng(4)))
    ratings = compute_ratings(comparisons, rounds=300, seed=0)
    boot = np.array([r.ci_high - r.ci_low for r in ratings.rows])
    sandwich = np.array([r.sandwich_high - r.sandwich_low for r in ratings.rows])
    ratio = boot / sandwich
    assert abs(ratio.mean() - 1) < 0.10 and np.all(np.abs(ratio - 1) < 0.2)


def test_bootstrap_is_reproducible() -> None:
    """The same seed gives the same bootstrap; another seed a different one."""
    comparisons = Comparisons.from_outcomes(simulate(TRUTH, 3_000, np.random.default_rng(5)))
    first = bootstrap_logits(comparisons, rounds=20, seed=7)
    assert np.array_equal(first, bootstrap_logits(comparisons, rounds=20, seed=7))
    assert not np.array_equal(first, bootstrap_logits(comparisons, rounds=20, seed=8))


def test_rank_upper_bound() -> None:
    """Rank (UB) counts models that are surely better."""
    lower = np.array([10.0, 8.0, 1.0])
    upper = np.array([12.0, 11.0, 3.0])
    assert rank_upper_bound(lower, upper).tolist() == [1, 1, 3]


def test_ties_are_half_wins() -> None:
    """A tie adds half a win to each side; only ties means equal scores."""
    comparisons = Comparisons.from_outcomes([O("x", "y", "tie", 10), O("x", "y", "tie (bothbad)", 4)])
    assert comparisons.win_matrix().tolist() == [[0, 7], [7, 0]]
    rows = compute_ratings(comparisons, rounds=20).rows
    assert abs(rows[0].score - rows[1].score) < 1e-6 and abs(rows[0].score - 1000) < 1e-6


def test_no_votes_and_one_model() -> None:
    """No votes (or only a model against itself) gives an empty table and a note, not a crash."""
    empty = compute_ratings(Comparisons.from_outcomes([]))
    assert empty.rows == [] and empty.notes == ["No votes yet."]
    assert compute_ratings(Comparisons.from_outcomes([O("solo", "solo", "tie", 3)])).rows == []


def test_two_models() -> None:
    """Two models: the winner of 30 of 40 is ahead by about 400·log10(3)."""
    rows = compute_ratings(Comparisons.from_outcomes([O("x", "y", "model_a", 30), O("x", "y", "model_b", 10)]), rounds=50).rows
    assert [r.model for r in rows] == ["x", "y"]
    assert rows[0].score - rows[1].score == pytest.approx(400 * np.log10(3), abs=0.5)


def test_only_wins_stays_finite_and_is_explained() -> None:
    """A model with only wins gets a finite top score, a wide interval and a note."""
    ratings = compute_ratings(Comparisons.from_outcomes([O("champ", "b", "model_a", 20), O("b", "c", "model_a", 5), O("c", "b", "model_a", 5)]), rounds=50)
    assert ratings.rows[0].model == "champ" and np.isfinite(ratings.rows[0].score)
    assert any("champ has only wins" in n for n in ratings.notes)


def test_disconnected_groups_are_reported() -> None:
    """Two groups that never met stay finite and the note says they are not comparable."""
    ratings = compute_ratings(Comparisons.from_outcomes([O("a", "b", "model_a", 10), O("c", "d", "model_b", 10)]), rounds=50)
    assert len(ratings.rows) == 4 and all(np.isfinite(r.score) for r in ratings.rows)
    assert any("2 disconnected groups" in n for n in ratings.notes)


def test_min_votes_hides_thin_models() -> None:
    """Models below the threshold are hidden, with a note."""
    ratings = compute_ratings(Comparisons.from_outcomes([O("a", "b", "model_a", 30), O("a", "c", "model_a", 1)]), min_votes=5, rounds=20)
    assert {r.model for r in ratings.rows} == {"a", "b"} and any("hidden" in n for n in ratings.notes)


def test_anchor_model_is_pinned() -> None:
    """An anchor model gets exactly the anchor score and a zero-width sandwich interval."""
    comparisons = Comparisons.from_outcomes(simulate(TRUTH, 2_000, np.random.default_rng(6)))
    ratings = compute_ratings(comparisons, rounds=20, anchor_model="c", anchor_score=1200)
    row = next(r for r in ratings.rows if r.model == "c")
    assert row.score == pytest.approx(1200) and row.sandwich_high - row.sandwich_low == pytest.approx(0, abs=1e-6)


def test_matrices() -> None:
    """Win fraction, battle counts and predicted probabilities are in score order."""
    ratings = compute_ratings(Comparisons.from_outcomes([O("x", "y", "model_a", 3), O("y", "x", "model_a", 1), O("x", "y", "tie", 2)]), rounds=10)
    assert ratings.models == ["x", "y"]
    assert ratings.win_fraction[0, 1] == pytest.approx(4 / 6) and ratings.battle_counts[0, 1] == 6
    assert ratings.predicted[0, 1] == pytest.approx(1 - ratings.predicted[1, 0]) and ratings.predicted[0, 1] > 0.5


def test_reweighting_equalises_pairs() -> None:
    """Inverse pair frequency gives every pair the same total weight."""
    comparisons = Comparisons.from_outcomes([O("a", "b", "model_a", 90), O("a", "b", "model_b", 10), O("a", "c", "model_a", 5), O("b", "c", "tie", 5)])
    weights = comparisons.reweighted()
    n = comparisons.n_models
    pair = np.minimum(comparisons.a, comparisons.b) * n + np.maximum(comparisons.a, comparisons.b)
    totals = {p: weights[pair == p].sum() for p in np.unique(pair)}
    assert np.allclose(list(totals.values()), list(totals.values())[0])


def test_online_elo_by_hand_and_incrementally() -> None:
    """One vote moves ratings by K·(1 − ½); continuing from saved ratings equals one pass."""
    ratings = online_elo([0], [1], [1.0], 2)
    assert ratings.tolist() == [1002.0, 998.0]
    a, b, s = [0, 1, 2, 0], [1, 2, 0, 2], [1.0, 0.5, 0.0, 1.0]
    whole = online_elo(a, b, s, 3)
    first = online_elo(a[:2], b[:2], s[:2], 3)
    assert np.allclose(online_elo(a[2:], b[2:], s[2:], 3, start=first), whole)


def test_style_control_recovers_a_planted_length_effect() -> None:
    """Voters who favour longer answers: style control finds the effect and restores the true order."""
    rng = np.random.default_rng(12)
    n, votes = 4, 60_000
    theta_true = np.array([0.6, 0.2, -0.2, -0.6])
    verbosity = np.array([50.0, 100.0, 200.0, 800.0])  # the weakest model is by far the wordiest
    a = rng.integers(0, n, votes)
    b = (a + rng.integers(1, n, votes)) % n
    len_a = rng.poisson(verbosity[a]) + 1
    len_b = rng.poisson(verbosity[b]) + 1
    zeros = np.zeros(votes)
    style_a = np.column_stack([len_a, zeros, zeros, zeros])
    style_b = np.column_stack([len_b, zeros, zeros, zeros])
    design = style_design(style_a, style_b)
    gamma_true = 0.8
    p = 1 / (1 + np.exp(-(theta_true[a] - theta_true[b] + gamma_true * design[:, 0])))
    score = (rng.random(votes) < p).astype(float)

    fit = fit_style_control(a, b, score, design, n)
    se = np.sqrt(np.diag(fit.covariance))
    assert abs(fit.coefficients[0] - gamma_true) < 4 * se[n]
    assert np.all(np.abs(fit.theta - (theta_true - theta_true.mean())) < 4 * se[:n] + 0.02)
    assert list(np.argsort(-fit.theta)) == [0, 1, 2, 3]

    keys, counts = np.unique(np.stack([a, b, score.astype(int)], axis=1), axis=0, return_counts=True)
    plain = Comparisons.from_outcomes([O(str(i), str(j), "model_a" if w else "model_b", int(c)) for (i, j, w), c in zip(keys, counts)])
    plain_theta = fit_bradley_terry(plain.win_matrix())
    assert plain_theta[plain.models.index("3")] > plain_theta[plain.models.index("2")]  # verbosity fooled the plain fit


def test_style_design_is_standardized() -> None:
    """Covariates are (a − b)/(a + b), zero when both are zero, then standardized."""
    design = style_design(np.array([[3, 0, 1, 0], [1, 0, 0, 0], [2, 0, 1, 0]]), np.array([[1, 0, 1, 0], [1, 0, 0, 0], [2, 0, 3, 0]]))
    assert np.allclose(design.mean(axis=0), 0) and np.allclose(design[:, 1], 0)
    assert np.allclose(design[:, 0].std(), 1)


def test_chord_refits_match_newton_on_the_same_draws() -> None:
    """The bootstrap's fixed-Hessian refits reach the same optimum as full Newton on each resample."""
    from arena.ratings import _chord_refits, _poisson_fill, fit_bradley_terry_batch

    comparisons = Comparisons.from_outcomes(simulate(TRUTH, 5_000, np.random.default_rng(13), tie_rate=0.1))
    merged = comparisons.merged()
    assert np.allclose(merged.win_matrix(), comparisons.win_matrix())
    draws = _poisson_fill(np.random.default_rng(3), int(merged.count.sum()), merged.count / merged.count.sum(), 12)
    chord = _chord_refits(merged, draws, fit_bradley_terry(comparisons.win_matrix()), DEFAULT_PRIOR)
    newton = fit_bradley_terry_batch(np.stack([merged.win_matrix(d) for d in draws]))
    assert np.max(np.abs(chord - newton)) < 1e-6


def test_bootstrap_draws_are_multinomial() -> None:
    """The Poisson-then-fill sampler has the multinomial's sums, means, variances and covariances."""
    from arena.ratings import _poisson_fill

    p = np.array([0.5, 0.3, 0.15, 0.05, 0.0])
    total, rounds = 400, 20_000
    draws = _poisson_fill(np.random.default_rng(1), total, p, rounds)
    assert draws.shape == (rounds, 5) and np.all(draws.sum(axis=1) == total) and np.all(draws[:, 4] == 0)
    assert np.allclose(draws.mean(axis=0), total * p, atol=0.5)
    assert np.allclose(draws[:, :4].var(axis=0), total * p[:4] * (1 - p[:4]), rtol=0.05)
    covariance = np.cov(draws[:, 0], draws[:, 1])[0, 1]
    assert covariance == pytest.approx(-total * p[0] * p[1], rel=0.08)
    assert np.array_equal(draws, _poisson_fill(np.random.default_rng(1), total, p, rounds))
