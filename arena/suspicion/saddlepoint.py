"""Tail probabilities of a weighted sum of independent Bernoulli residuals, by the saddlepoint method.

A score test's statistic here is U = Σ wᵢ·(yᵢ − pᵢ) over a voter's decisive
votes, yᵢ ~ Bernoulli(pᵢ). Its normal approximation is poor in the tails
for a voter with a few votes: a vote against a strong favourite (pᵢ near 1,
large wᵢ) is a long, rare step, so the lower tail is much heavier than
Gaussian, and honest voters with ten votes came out at p = 10⁻⁵. The
Lugannani–Rice formula on the exact cumulant generating function

    K(s) = Σ log(1 − pᵢ + pᵢ·e^(s·wᵢ)) − s·Σ wᵢ·pᵢ

is accurate to a few per cent of the tail probability itself down to very
small probabilities, with ten terms as with ten thousand
(``tests/test_suspicion_stats.py`` checks it against exact enumeration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm


@dataclass(frozen=True)
class _Terms:
    """The per-element constants of the cumulant generating function."""

    group: np.ndarray
    w: np.ndarray
    p: np.ndarray
    logit_p: np.ndarray
    log_p: np.ndarray
    log_q: np.ndarray
    rows: int

    def cumulants(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """K(s), K'(s), K''(s) per row, for *s* per row."""
        x = s[self.group] * self.w
        tilted = expit(self.logit_p + x)
        k0 = np.bincount(self.group, weights=np.logaddexp(self.log_q, self.log_p + x) - x * self.p, minlength=self.rows)
        k1 = np.bincount(self.group, weights=self.w * (tilted - self.p), minlength=self.rows)
        k2 = np.bincount(self.group, weights=self.w * self.w * tilted * (1.0 - tilted), minlength=self.rows)
        return k0, k1, k2


def _solve(terms: _Terms, u: np.ndarray, start: np.ndarray, iterations: int = 100) -> np.ndarray:
    """The saddlepoint ŝ ≥ 0 with K'(ŝ) = u, by Newton steps kept inside a bracket (bisection or doubling otherwise)."""
    low, high = np.zeros(terms.rows), np.full(terms.rows, np.inf)
    s = np.maximum(start, 1e-12)
    for _ in range(iterations):
        _, k1, k2 = terms.cumulants(s)
        below = k1 < u
        low, high = np.where(below, s, low), np.where(below, high, s)
        if np.all(np.abs(k1 - u) <= 1e-10 * np.sqrt(np.maximum(k2, 1e-300)) + 1e-14):
            break
        step = s - (k1 - u) / np.maximum(k2, 1e-300)
        fallback = np.where(np.isfinite(high), 0.5 * (low + high), 2.0 * s)
        s = np.where((step > low) & (step < high), step, fallback)
    return s


def upper_tail(group: np.ndarray, w: np.ndarray, p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """P(U ≥ u) per row, U = Σ w·(y − p) over the elements of each row (*group* numbers the rows from 0).

    *u* should lie above the mean (0); a row whose u is the largest value U
    can take gets the exact probability of that outcome, and one beyond it 0.
    """
    rows = len(u)
    p = np.clip(p, 1e-12, 1.0 - 1e-12)
    terms = _Terms(group=group, w=w, p=p, logit_p=logit(p), log_p=np.log(p), log_q=np.log1p(-p), rows=rows)
    top = np.bincount(group, weights=np.where(w > 0, w * (1.0 - p), -w * p), minlength=rows)
    extreme = np.exp(np.bincount(group, weights=np.where(w > 0, terms.log_p, terms.log_q) * (w != 0), minlength=rows))
    inside = u < top * (1 - 1e-9)
    variance = np.bincount(group, weights=w * w * p * (1.0 - p), minlength=rows)
    target = np.where(inside, u, 0.5 * top)  # rows at or past the top are answered exactly below
    s = _solve(terms, target, target / np.maximum(variance, 1e-300))
    k0, _, k2 = terms.cumulants(s)
    r = np.sqrt(np.maximum(2.0 * (s * target - k0), 0.0))
    q = s * np.sqrt(k2)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = norm.sf(r) + norm.pdf(r) * (1.0 / q - 1.0 / r)
    tail = np.where(r < 1e-3, norm.sf(target / np.sqrt(np.maximum(k2, 1e-300))), tail)
    tail = np.where(inside, np.clip(tail, 0.0, 1.0), extreme)
    return np.where(u > top * (1 + 1e-9) + 1e-12, 0.0, tail)


__all__ = ["upper_tail"]
