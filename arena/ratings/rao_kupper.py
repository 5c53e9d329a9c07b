"""Rao–Kupper: Bradley–Terry with ties as ties, fitted by Newton's method on the aggregated counts.

    P(i beats j) = π_i / (π_i + θ π_j),   P(tie) = (θ² − 1) π_i π_j / ((π_i + θ π_j)(π_j + θ π_i)),   θ ≥ 1.

With β = log π and η = log θ, P(i beats j) = σ(β_i − β_j − η): a tie band of
width 2η around an even match. A pair with w wins of i, t ties and l wins of j
contributes, with d = β_i − β_j,

    −(w + t) softplus(η − d) − (l + t) softplus(η + d) + t log(e^{2η} − 1),

which is concave in (β, η), so Newton's method with step halving finds the
maximum. The same tiny ridge as Bradley–Terry (``DEFAULT_PRIOR``) is put on β
and on η, so all-win models, disconnected graphs and all-tie data stay finite.
Without any tie the maximum is on the boundary θ = 1, where the model is
Bradley–Terry on the decisive votes; it is then fitted with η fixed at 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from scipy.sparse import csr_matrix
from scipy.special import expit

from arena.ratings.bradley_terry import DEFAULT_PRIOR, fit_bradley_terry
from arena.ratings.comparisons import Comparisons
from arena.ratings.matrices import incidence, laplacian

TIE_MODELS = ("bt", "rao-kupper")


@dataclass(frozen=True)
class PairOutcomes:
    """Per unordered pair (lower index first): the lower model's wins, the ties, and its losses (weights may be fractional)."""

    n_models: int
    low: np.ndarray
    high: np.ndarray
    won: np.ndarray
    tied: np.ndarray
    lost: np.ndarray

    @classmethod
    def of(cls, comparisons: Comparisons, counts: np.ndarray | None = None) -> PairOutcomes:
        source = comparisons if counts is None else replace(comparisons, count=np.asarray(counts, dtype=float))
        merged = source.merged()
        cells = merged.count.reshape(-1, 3)  # lower loses, tie, lower wins
        return cls(comparisons.n_models, merged.a[::3], merged.b[::3], cells[:, 2], cells[:, 1], cells[:, 0])

    def with_counts(self, cells: np.ndarray) -> PairOutcomes:
        """The same pairs with other (pairs, 3) counts in merged order: lower loses, tie, lower wins."""
        return replace(self, won=cells[:, 2], tied=cells[:, 1], lost=cells[:, 0])

    @cached_property
    def incidence(self) -> csr_matrix:
        return incidence(self.low, self.high, self.n_models)

    @cached_property
    def incidence_t(self) -> csr_matrix:
        return self.incidence.T.tocsr()

    def spread(self, values: np.ndarray) -> np.ndarray:
        """Σ over pairs of values[k] (e_low − e_high): a per-pair derivative in d as a per-model one."""
        n = self.n_models
        return np.bincount(self.low, weights=values, minlength=n) - np.bincount(self.high, weights=values, minlength=n)


@dataclass(frozen=True)
class RaoKupperFit:
    """The fitted logits β (mean zero) and η = log θ."""

    theta: np.ndarray
    log_tie: float

    @property
    def tie(self) -> float:
        """The tie parameter θ = e^η ≥ 1."""
        return float(np.exp(self.log_tie))


def rao_kupper_probabilities(diff: np.ndarray, log_tie: float | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P(i wins), P(tie), P(j wins)) for logit differences d = β_i − β_j."""
    win, loss = expit(diff - log_tie), expit(-diff - log_tie)
    return win, np.clip(1.0 - win - loss, 0.0, 1.0), loss


def rao_kupper_log_likelihood(pairs: PairOutcomes, theta: np.ndarray, log_tie: float, prior: float = DEFAULT_PRIOR) -> float:
    """The penalised log-likelihood the fit maximises (−∞ for η ≤ 0 with ties)."""
    d = theta[pairs.low] - theta[pairs.high]
    value = -((pairs.won + pairs.tied) * np.logaddexp(0.0, log_tie - d)).sum()
    value -= ((pairs.lost + pairs.tied) * np.logaddexp(0.0, log_tie + d)).sum()
    ties = float(pairs.tied.sum())
    if ties > 0:
        value += ties * np.log(np.expm1(2.0 * log_tie)) if log_tie > 0 else -np.inf
    return float(value - 0.5 * prior * (theta @ theta + log_tie**2))


def _newton_terms(pairs: PairOutcomes, theta: np.ndarray, log_tie: float, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and information (negative Hessian) of the penalised log-likelihood in (β, η), size n + 1."""
    n = pairs.n_models
    d = theta[pairs.low] - theta[pairs.high]
    win, _, loss = rao_kupper_probabilities(d, log_tie)
    ahead, behind = pairs.won + pairs.tied, pairs.lost + pairs.tied
    curve_win, curve_loss = ahead * win * (1.0 - win), behind * loss * (1.0 - loss)
    grad = np.empty(n + 1)
    grad[:n] = pairs.spread(ahead * (1.0 - win) - behind * (1.0 - loss)) - prior * theta
    information = np.empty((n + 1, n + 1))
    information[:n, :n] = laplacian(pairs.low, pairs.high, curve_win + curve_loss, n) + prior * np.eye(n)
    information[:n, n] = information[n, :n] = pairs.spread(curve_loss - curve_win)
    ties = float(pairs.tied.sum())
    grow = np.expm1(2.0 * log_tie) if ties > 0 else 1.0
    grad[n] = -(ahead * (1.0 - win)).sum() - (behind * (1.0 - loss)).sum() + ties * 2.0 * (grow + 1.0) / grow - prior * log_tie
    information[n, n] = (curve_win + curve_loss).sum() + ties * 4.0 * (grow + 1.0) / grow**2 + prior
    return grad, information


def fit_rao_kupper(comparisons: Comparisons, *, counts: np.ndarray | None = None, prior: float = DEFAULT_PRIOR,
                   tol: float = 1e-10, max_iter: int = 100) -> RaoKupperFit:
    """MAP Rao–Kupper logits and tie parameter, from Bradley–Terry's logits and the pooled tie rate."""
    pairs = PairOutcomes.of(comparisons, counts)
    start = fit_bradley_terry(comparisons.win_matrix(counts), prior=prior)
    return fit_rao_kupper_pairs(pairs, prior=prior, theta0=start, tol=tol, max_iter=max_iter)


def _pooled_log_tie(pairs: PairOutcomes) -> float:
    """η of an even match whose tie probability is the pooled tie rate: (θ − 1)/(θ + 1) = rate."""
    total = float((pairs.won + pairs.tied + pairs.lost).sum())
    rate = min(float(pairs.tied.sum()) / total, 0.99) if total > 0 else 0.0
    return float(np.log((1.0 + rate) / (1.0 - rate))) if rate > 0 else 0.0


def fit_rao_kupper_pairs(pairs: PairOutcomes, *, prior: float = DEFAULT_PRIOR, theta0: np.ndarray | None = None,
                         log_tie0: float | None = None, tol: float = 1e-10, max_iter: int = 100) -> RaoKupperFit:
    """Newton's method with step halving on :func:`rao_kupper_log_likelihood`; η stays at 0 when nothing tied."""
    n = pairs.n_models
    free = float(pairs.tied.sum()) > 0  # without ties the maximum is at θ = 1, on the boundary
    theta = np.zeros(n) if theta0 is None else np.array(theta0, dtype=float)
    log_tie = (_pooled_log_tie(pairs) if log_tie0 is None else log_tie0) if free else 0.0
    value = rao_kupper_log_likelihood(pairs, theta, log_tie, prior)
    size = n + 1 if free else n
    for _ in range(max_iter):
        grad, information = _newton_terms(pairs, theta, log_tie, prior)
        step = np.linalg.solve(information[:size, :size], grad[:size])
        scale = 1.0
        while scale > 1e-12:  # halve the step until it stays in η > 0 and does not lower the objective
            new_tie = log_tie + scale * step[n] if free else 0.0
            candidate = rao_kupper_log_likelihood(pairs, theta + scale * step[:n], new_tie, prior)
            if candidate >= value - 1e-12 * abs(value):
                break
            scale /= 2.0
        else:
            break
        theta, log_tie, value = theta + scale * step[:n], new_tie, candidate
        if np.max(np.abs(scale * step)) < tol:
            break
    return RaoKupperFit(theta - theta.mean(), float(log_tie))


def rao_kupper_sandwich(pairs: PairOutcomes, fit: RaoKupperFit, *, prior: float = DEFAULT_PRIOR) -> np.ndarray:
    """Robust covariance H⁻¹ J H⁻¹ of (β, η), (n + 1)², from per-vote score outer products (η's row is 0 without ties)."""
    n = pairs.n_models
    d = fit.theta[pairs.low] - fit.theta[pairs.high]
    win, _, loss = rao_kupper_probabilities(d, fit.log_tie)
    free = float(pairs.tied.sum()) > 0
    gain = 2.0 * (np.expm1(2.0 * fit.log_tie) + 1.0) / np.expm1(2.0 * fit.log_tie) if free else 0.0
    # scores (in d, in η) of one vote per outcome: the lower model wins, a tie, the lower model loses
    outcomes = [(pairs.won, 1.0 - win, -(1.0 - win)), (pairs.tied, loss - win, gain - (1.0 - win) - (1.0 - loss)),
                (pairs.lost, -(1.0 - loss), -(1.0 - loss))]
    meat = np.zeros((n + 1, n + 1))
    meat[:n, :n] = laplacian(pairs.low, pairs.high, sum(c * s_d**2 for c, s_d, _ in outcomes), n)
    meat[:n, n] = meat[n, :n] = pairs.spread(sum(c * s_d * s_e for c, s_d, s_e in outcomes))
    meat[n, n] = sum(float((c * s_e**2).sum()) for c, _, s_e in outcomes)
    _, information = _newton_terms(pairs, fit.theta, fit.log_tie, prior)
    size = n + 1 if free else n
    covariance = np.zeros((n + 1, n + 1))
    inverse = np.linalg.inv(information[:size, :size])
    covariance[:size, :size] = inverse @ meat[:size, :size] @ inverse
    return covariance
