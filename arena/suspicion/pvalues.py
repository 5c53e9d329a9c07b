"""p-values for single votes, their combination per voter, and the multiple-testing control over voters.

Kept apart from the detection so each formula can be checked by hand and
against scipy (``tests/test_suspicion_stats.py``).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

from arena.suspicion.votes import A_WON, B_WON, TIE


def history_pvalues(history: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Chatbot Arena's per-vote p-value against the pair's history (arXiv 2403.04132, §5).

    *history* is (votes, 3): for each vote, how often the other voters' votes
    on the same two models had side A's model win, tie, and lose (oriented to
    this vote's sides). With A's score 1, ½, 0 for the three outcomes, the
    p-value is (1 + #{history scores ≥ this vote's}) / (history + 1): the
    rank of the vote among the history, valid (super-uniform) when the votes
    of a pair are exchangeable. It is one-sided: a vote for the side that
    usually loses gets a small p-value, a vote against it never does.
    """
    wins, ties, losses = history[:, 0], history[:, 1], history[:, 2]
    at_least = np.where(outcome == A_WON, wins, np.where(outcome == TIE, wins + ties, wins + ties + losses))
    return (1.0 + at_least) / (1.0 + wins + ties + losses)


def surprise_bounds(probs: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two-sided "as unlikely" p-value of each vote's outcome, as the interval a randomised test draws from.

    *probs* is (votes, 3): the probabilities of A won, B won and tie. The
    p-value of outcome o is the probability of an outcome no likelier than o;
    its upper end counts outcomes as likely as o, the lower end only the less
    likely ones. A p-value drawn uniformly between the two is exactly uniform
    under the model (a discrete outcome has no exact p-value of its own).
    """
    observed = probs[np.arange(len(outcome)), outcome][:, None]
    upper = np.where(probs <= observed, probs, 0.0).sum(axis=1)
    lower = np.where(probs < observed, probs, 0.0).sum(axis=1)
    return np.clip(lower, 0.0, 1.0), np.clip(upper, 0.0, 1.0)


def _x_log_x(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def lancaster_terms(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Lancaster's mean-value χ² terms: E[−2 ln U] for U uniform on [lower, upper] (−2 ln upper when they meet).

    Summed over n votes they have mean 2n under the model, like Fisher's
    statistic on continuous p-values, so χ²(2n) stays a fair reference
    without drawing random numbers (Lancaster, 1961).
    """
    width = upper - lower
    wide = width > 1e-12
    safe_width = np.where(wide, width, 1.0)
    mean_value = 2.0 - 2.0 * (_x_log_x(upper) - _x_log_x(lower)) / safe_width
    return np.where(wide, mean_value, -2.0 * np.log(np.maximum(upper, 1e-300)))


def fisher_pvalue(statistic: np.ndarray, votes: np.ndarray) -> np.ndarray:
    """P(χ²(2·votes) ≥ statistic): Fisher's combination of *votes* p-values whose −2 ln sum to *statistic*."""
    return chi2.sf(statistic, 2 * np.asarray(votes))


def bonferroni(pvalues: np.ndarray, tests: np.ndarray | int) -> np.ndarray:
    """The smallest of *tests* p-values times their number, capped at 1 (valid under any dependence)."""
    return np.minimum(1.0, np.asarray(pvalues) * tests)


def cauchy_combination(pvalues: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the Cauchy combination of its p-values (Liu & Xie, 2020): valid under any dependence for small p-values.

    T = mean of tan((½ − p)·π); the combined p-value is P(Cauchy ≥ T). Tests
    of one voter at nested checkpoints are strongly dependent: the Cauchy
    combination then costs far less than Bonferroni's factor, and it is
    never much worse than Bonferroni when they are not.
    """
    p = np.clip(np.asarray(pvalues, dtype=float), 1e-300, 1.0 - 1e-15)
    terms = 1.0 / np.tan(p * np.pi)  # tan((½ − p)π) = cot(pπ), exact for tiny p
    sums = np.bincount(groups, weights=terms, minlength=n_groups)
    sizes = np.bincount(groups, minlength=n_groups)
    t = np.where(sizes > 0, sums / np.maximum(sizes, 1), 0.0)
    positive = t > 0
    return np.where(positive, np.arctan(1.0 / np.where(positive, t, 1.0)) / np.pi, 0.5 - np.arctan(t) / np.pi)


def bh_adjusted(pvalues: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values): reject all with q ≤ the target false discovery rate.

    With *weights* (positive, rescaled here to mean 1), the weighted procedure
    of Genovese, Roeder & Wasserman (2006) on p / w: still at most the target
    rate of false discoveries when the weights do not depend on the p-values,
    and more power where the weights put the tests likelier to find something.
    """
    p = np.asarray(pvalues, dtype=float)
    if weights is not None and len(p):
        w = np.asarray(weights, dtype=float)
        p = np.minimum(1.0, p / (w / w.mean()))
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def benjamini_hochberg(pvalues: np.ndarray, fdr: float) -> np.ndarray:
    """A mask of the p-values rejected at false discovery rate *fdr* (Benjamini & Hochberg, 1995)."""
    return bh_adjusted(pvalues) <= fdr


__all__ = ["A_WON", "B_WON", "TIE", "benjamini_hochberg", "bh_adjusted", "bonferroni", "fisher_pvalue", "history_pvalues",
           "cauchy_combination", "lancaster_terms", "surprise_bounds"]
