"""Rao–Kupper for one leaderboard: the fit, its intervals (bootstrap and sandwich) and the calibration beside BT's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arena.ratings.bradley_terry import DEFAULT_PRIOR, fit_bradley_terry
from arena.ratings.calibration import TieReport, calibrate
from arena.ratings.comparisons import Comparisons
from arena.ratings.rao_kupper import PairOutcomes, fit_rao_kupper_pairs, rao_kupper_sandwich
from arena.ratings.tie_bootstrap import rao_kupper_bootstrap

Z95 = 1.959963984540054


@dataclass(frozen=True)
class TieFit:
    """Rao–Kupper logits, their covariance (models × models), bootstrap logits (rounds × models), η and the report."""

    theta: np.ndarray
    covariance: np.ndarray
    samples: np.ndarray
    log_tie: float
    report: TieReport


def fit_ties(comparisons: Comparisons, counts: np.ndarray, *, rounds: int, seed: int, prior: float = DEFAULT_PRIOR,
             reweight: bool = False, ci_method: str = "bootstrap") -> TieFit:
    """The Rao–Kupper fit of *counts* (raw or reweighted), θ's interval by *ci_method*, and both models' calibration.

    θ's bootstrap interval is the percentile one of e^η over the rounds; the
    sandwich one is e^(η ± 1.96 se). Both are clipped at θ = 1, the model's bound.
    """
    n = comparisons.n_models
    bt_logits = fit_bradley_terry(comparisons.win_matrix(counts), prior=prior)
    fit = fit_rao_kupper_pairs(PairOutcomes.of(comparisons, counts), prior=prior, theta0=bt_logits)
    covariance = rao_kupper_sandwich(PairOutcomes.of(comparisons, counts), fit, prior=prior)
    samples = rao_kupper_bootstrap(comparisons, fit, rounds=rounds, seed=seed, prior=prior, reweight=reweight) if rounds > 0 else np.zeros((0, n + 1))
    if ci_method == "bootstrap" and len(samples):
        low, high = np.exp(np.percentile(samples[:, n], [2.5, 97.5]))
    else:
        spread = Z95 * float(np.sqrt(max(covariance[n, n], 0.0)))
        low, high = np.exp(fit.log_tie - spread), np.exp(fit.log_tie + spread)
    report = TieReport(theta=fit.tie, theta_low=max(float(low), 1.0), theta_high=max(float(high), 1.0),
                       calibration=calibrate(comparisons, bt_logits, fit))
    return TieFit(fit.theta, covariance[:n, :n], samples[:, :n], fit.log_tie, report)
