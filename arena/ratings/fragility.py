"""How fragile an order is: the fewest votes whose removal puts model b above model a (or anyone above the #1).

Dropping a handful of the right votes can change an arena's #1 (arXiv
2508.11847 found 0.003 % for Chatbot Arena). Trying every subset is out of
reach, so the search follows the votes' influence: removing one vote of cell
(i, j, outcome y) moves the logits by about ``-H⁻¹ (y - p_ij)(e_i - e_j)``
(one Newton step from the fit, H the Fisher information with the prior), so
its effect on the gap ``d = θ_a - θ_b`` is ``-(y - p_ij)(x_i - x_j)`` with
``x = H⁻¹(e_a - e_b)``. Every vote of a cell has the same influence, so the
ordering costs one solve and one sort over the cells, not the votes.

The linear estimate (the fewest most-influential votes whose summed effect
closes the gap) is then checked by refitting without them: if the order has
not flipped, the prefix of the ordering is doubled until it does, and a
bisection over the prefix length finds the shortest one that flips under a
real refit. The answer is therefore always a set of votes whose removal is
confirmed to flip the order (an upper bound on the true minimum; on tiny
arenas the tests find it equal to the brute-force minimum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from arena.ratings.bradley_terry import DEFAULT_PRIOR, fit_bradley_terry
from arena.ratings.comparisons import Comparisons


@dataclass(frozen=True)
class Fragility:
    """The fewest votes found whose removal puts *challenger* above *leader*, confirmed by a refit (None: no set found)."""

    leader: str
    challenger: str
    votes: int | None       # how many votes to drop
    total_votes: int
    linear_estimate: int | None  # what the influence approximation alone said
    refits: int             # refits spent confirming

    @property
    def share(self) -> float | None:
        return None if self.votes is None or not self.total_votes else self.votes / self.total_votes


def order_fragility(comparisons: Comparisons, leader: str, challenger: str, *, prior: float = DEFAULT_PRIOR) -> Fragility:
    """The fewest votes (found by influence, confirmed by refits) whose removal puts *challenger* above *leader*."""
    a, b = comparisons.models.index(leader), comparisons.models.index(challenger)
    counts = np.asarray(comparisons.count, dtype=float)
    total = int(round(counts.sum()))
    theta = fit_bradley_terry(comparisons.win_matrix(counts), prior=prior)
    if theta[a] <= theta[b]:
        return Fragility(leader, challenger, 0, total, 0, 0)
    order, per_vote = _influence_order(comparisons, counts, theta, a, b, prior)
    removable = np.cumsum(counts[order])
    linear = _linear_estimate(per_vote[order], counts[order], removable, theta[a] - theta[b])

    refits = 0

    def flips(k: int) -> bool:
        nonlocal refits
        refits += 1
        reduced = counts.copy()
        reduced[order] -= np.clip(k - (removable - counts[order]), 0.0, counts[order])
        fitted = fit_bradley_terry(comparisons.win_matrix(reduced), prior=prior, theta0=theta)
        return bool(fitted[b] > fitted[a])

    helpful = int(removable[per_vote[order] < 0][-1]) if (per_vote < 0).any() else 0  # votes that narrow the gap at all
    high = min(max(linear or 1, 1), helpful)
    while high and not flips(high):
        if high >= helpful:
            return Fragility(leader, challenger, None, total, linear, refits)
        high = min(2 * high, helpful)
    low = 0  # removing nothing does not flip (checked above)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if flips(middle) else (middle, high)
    return Fragility(leader, challenger, high if high else None, total, linear, refits)


def _influence_order(comparisons: Comparisons, counts: np.ndarray, theta: np.ndarray, a: int, b: int,
                     prior: float) -> tuple[np.ndarray, np.ndarray]:
    """Cells ordered by how much removing one of their votes narrows θ_a − θ_b (most first), and that per-vote effect."""
    n = comparisons.n_models
    wins = comparisons.win_matrix(counts)
    games = wins + wins.T
    p = expit(theta[:, None] - theta[None, :])
    information = -games * p * (1.0 - p)
    information[np.diag_indices(n)] = -information.sum(axis=1) + prior
    contrast = np.zeros(n)
    contrast[a], contrast[b] = 1.0, -1.0
    x = np.linalg.solve(information, contrast)
    cell_p = p[comparisons.a, comparisons.b]
    per_vote = -(comparisons.score - cell_p) * (x[comparisons.a] - x[comparisons.b])
    order = np.argsort(per_vote, kind="stable")
    order = order[counts[order] > 0]
    return order, per_vote


def _linear_estimate(effects: np.ndarray, counts: np.ndarray, removable: np.ndarray, gap: float) -> int | None:
    """The fewest votes, most influential first, whose summed linear effect closes *gap*; None if all of them do not."""
    closing = np.cumsum(effects * counts)
    reached = np.flatnonzero(closing <= -gap)
    if not len(reached):
        return None
    cell = int(reached[0])
    before = closing[cell - 1] if cell else 0.0
    needed = int(np.ceil((-gap - before) / effects[cell] - 1e-9))
    return int((removable[cell - 1] if cell else 0) + max(needed, 1))


def top_fragility(comparisons: Comparisons, ranked: list[str], *, challengers: int = 3, prior: float = DEFAULT_PRIOR) -> Fragility | None:
    """How many votes keep the #1 (first of *ranked*) on top: the least over the next *challengers* models."""
    if len(ranked) < 2:
        return None
    found = [order_fragility(comparisons, ranked[0], other, prior=prior) for other in ranked[1:1 + challengers]]
    decided = [f for f in found if f.votes is not None]
    return min(decided, key=lambda f: f.votes or 0) if decided else found[0]


__all__ = ["Fragility", "order_fragility", "top_fragility"]
