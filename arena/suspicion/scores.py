"""Score tests of one voter's decisive votes against the consensus, per checkpoint row.

Each test asks whether one extra parameter of the voter's own would explain
their votes better than the consensus does. Its statistic is the score,
U = Σ wᵢ·(yᵢ − pᵢ) over the voter's decisive votes (yᵢ = 1 when side A won,
pᵢ the consensus probability of that), for a weight wᵢ per vote; no
per-voter fit is needed, so every voter costs a few sums.

- *agreement* (wᵢ = θa − θb): P(A won) = σ(β·(θa − θb)), β = 1 for the
  consensus. A random voter has β ≈ 0, one who votes against the favourite
  β < 0; one-sided (low agreement is suspicious, sharp agreement is not).
- *side* (wᵢ = 1): P(A won) = σ(θa − θb + γ), γ a liking for one side
  whatever it says; two-sided ("always A", "always B").
- *campaign k* (wᵢ = vk[a] − vk[b]): a push along the k-th direction shared
  by a group of voters (:mod:`arena.suspicion.campaign`); two-sided.

Tail probabilities come from the normal approximation, and from the
saddlepoint method (:mod:`arena.suspicion.saddlepoint`) wherever the normal
one says p < 0.05, where it is not to be trusted for small voters.

Honest voters differ from the consensus more than its own noise says (some
agree more, some less), and the more votes they cast the more it shows.
:func:`inflation` measures that spread on the voters themselves: z is
divided by √(1 + n·τ²), with τ² chosen so that the median voter's z² is the
χ²(1) median. The median barely moves while attackers are a minority of
the tested voters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import expit
from scipy.stats import chi2, norm

from arena.suspicion.checkpoints import Layout
from arena.suspicion.consensus import Consensus
from arena.suspicion.saddlepoint import upper_tail
from arena.suspicion.votes import A_WON, B_WON, VoterVotes

SADDLEPOINT_BELOW = 0.05  # rows whose normal p-value is below this get the saddlepoint tail


@dataclass(frozen=True)
class Decisive:
    """Per vote: whether it was decisive, side A's win indicator, its consensus probability and θa − θb."""

    mask: np.ndarray
    won: np.ndarray
    p: np.ndarray
    d: np.ndarray

    @classmethod
    def of(cls, votes: VoterVotes, consensus: Consensus) -> Decisive:
        mask = (votes.outcome == A_WON) | (votes.outcome == B_WON)
        d = consensus.theta[votes.a] - consensus.theta[votes.b]
        return cls(mask=mask, won=(votes.outcome == A_WON).astype(float), p=consensus.win_probability(votes.a, votes.b), d=d)

    @property
    def residual(self) -> np.ndarray:
        return np.where(self.mask, self.won - self.p, 0.0)

    @property
    def variance(self) -> np.ndarray:
        return np.where(self.mask, self.p * (1.0 - self.p), 0.0)


@dataclass(frozen=True)
class Component:
    """One score test per checkpoint row: z (normal approximation) and the tail probability in z's direction."""

    name: str
    z: np.ndarray
    tail: np.ndarray       # P(Z at least as far out as z, on z's side), saddlepoint where it matters
    n: np.ndarray          # decisive votes covered
    one_sided_low: bool
    inflatable: bool = True  # False: the test's null already allows for honest voters' spread

    def pvalues(self, tau2: float) -> np.ndarray:
        """Per-row p-values after widening the null by 1 + n·τ² (in the z scale)."""
        z_tail = norm.isf(np.clip(self.tail, 1e-300, 0.5)) / np.sqrt(1.0 + self.n * tau2)  # ≥ 0: distance out
        one_tail = norm.sf(z_tail)
        if self.one_sided_low:
            return np.where(self.z < 0, one_tail, 1.0 - one_tail)
        return np.minimum(1.0, 2.0 * one_tail)


def score_test(name: str, decisive: Decisive, rows: Layout, n: np.ndarray, weight: np.ndarray, *, low: bool = False) -> Component:
    """The score test with per-vote *weight*, per checkpoint row of *rows*."""
    u = rows.totals(decisive.residual * weight)
    v = rows.totals(decisive.variance * weight * weight)
    z = np.where(v > 1e-12, u / np.sqrt(np.maximum(v, 1e-12)), 0.0)
    tail = norm.sf(np.abs(z))
    candidates = np.flatnonzero((tail < SADDLEPOINT_BELOW) & (v > 1e-12))
    if len(candidates):
        tail[candidates] = _saddlepoint_tails(decisive, rows, weight, candidates, u[candidates])
    return Component(name=name, z=z, tail=tail, n=n, one_sided_low=low)


def _saddlepoint_tails(decisive: Decisive, rows: Layout, weight: np.ndarray, chosen: np.ndarray, u: np.ndarray) -> np.ndarray:
    """P(U at least as far out as u, on its side) for the *chosen* rows, with a continuity correction."""
    lengths = rows.row_length[chosen]
    group = np.repeat(np.arange(len(chosen)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    votes = rows.order[rows.starts[rows.row_voter[chosen]][group] + offsets]
    keep = decisive.mask[votes] & (weight[votes] != 0)
    group, votes = group[keep], votes[keep]
    flip = np.where(u < 0, -1.0, 1.0)  # the lower tail of U is the upper tail of −U
    w = weight[votes] * flip[group]
    smallest = np.full(len(chosen), np.inf)
    np.minimum.at(smallest, group, np.abs(w))
    corrected = np.abs(u) - 0.5 * np.where(np.isfinite(smallest), smallest, 0.0)
    return upper_tail(group, w, decisive.p[votes], corrected)


def agreement(decisive: Decisive, rows: Layout, n: np.ndarray) -> Component:
    """The β test: does the voter follow the consensus less than its noise allows?"""
    return score_test("agreement", decisive, rows, n, decisive.d, low=True)


def carelessness(decisive: Decisive, rows: Layout, n: np.ndarray, floor: float) -> Component:
    """The β test against a floor: does the voter follow the consensus less than *floor* times as closely?

    Its null hypothesis is every β ≥ *floor*, tested at the edge β = *floor*,
    so honest voters' own spread above the floor needs no calibration.
    """
    at_floor = replace(decisive, p=expit(floor * decisive.d))
    return replace(score_test("careless", at_floor, rows, n, decisive.d, low=True), inflatable=False)


def side(decisive: Decisive, rows: Layout, n: np.ndarray) -> Component:
    """The γ test: does the voter pick one side more often than the answers explain?"""
    return score_test("side", decisive, rows, n, np.ones(len(decisive.mask)))


def campaign(decisive: Decisive, rows: Layout, n: np.ndarray, weights: np.ndarray) -> list[Component]:
    """One test per campaign direction; *weights* (votes, r) holds va − vb for each vote and direction."""
    return [score_test(f"campaign {k + 1}", decisive, rows, n, weights[:, k]) for k in range(weights.shape[1])]


def inflation(component: Component, *, upper: float = 10.0) -> float:
    """τ² ≥ 0 such that the median of z² / (1 + n·τ²) is the χ²(1) median (0 if it is already at most that)."""
    target = chi2.median(1)
    stat, n = component.z ** 2, component.n
    if len(stat) == 0 or np.median(stat) <= target:
        return 0.0
    low, high = 0.0, upper
    for _ in range(60):
        middle = 0.5 * (low + high)
        if np.median(stat / (1.0 + n * middle)) > target:
            low = middle
        else:
            high = middle
    return high


__all__ = ["SADDLEPOINT_BELOW", "Component", "Decisive", "agreement", "campaign", "inflation", "score_test", "side"]
