"""Active pairing: draw the next anonymous pair where one more vote shrinks the leaderboard's intervals most.

Pure maths on the live leaderboard's matrices (battle counts and predicted win
probabilities between its models); no I/O. The service
(:mod:`arena.pair_policy`) rebuilds a :class:`PairTable` every so many votes,
off the voter's path, and each draw only looks the pair up in it.

Each pair (i, j) gets a *gain*, the expected shrinkage of an interval from one
more vote on it, by one of two rules:

``paper``
    The Chatbot Arena paper's rule (arXiv 2403.04132, §5):
    gain = √(Σ/n) − √(Σ/(n+1)), n the pair's battles and Σ = n·V its
    per-vote variance, V the variance of the logit difference θᵢ − θⱼ from
    the fit's covariance. It is the shrinkage of the pair's own interval if
    that interval narrowed like 1/√n. A pair never played has no n; it gets
    the largest gain of the table, so it is tried first.
``widest``
    The shrinkage of the widest *score* intervals, which is what the
    leaderboard shows: the exact change of every model's score variance from
    one more vote on (i, j) (a rank-one update of the covariance), summed
    over models as (vₖ/v_max)^8, a smooth maximum. A vote between close,
    well-measured partners of the least certain model gains most.

The covariance is the inverse Fisher information of the Bradley–Terry fit
(each pair weighs n·p(1 − p)), with the fit's tiny ridge so it always exists.
The draw probability mixes the gains with the admin's weights (the weights
rule's pair probability times the gain, normalised) and keeps a *floor*: that
share of the draws follows the weights alone, so no pair starves.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from arena.pairing import TARGET_BOOST, Candidate, PairingError, pair_weights

RULES = ("paper", "widest")
WIDEST_POWER = 8  # the smooth maximum's exponent: 1 would shrink the sum of the variances, ∞ only the widest
RIDGE = 1e-3  # the Bradley–Terry fit's prior (arena.ratings.DEFAULT_PRIOR), so the information is always invertible
_CHUNK = 4096  # pairs at a time for the widest rule (models × chunk floats)


@dataclass(frozen=True, eq=False)
class PairTable:
    """The gain of one more vote on each pair of the leaderboard's models (matrix order of *models*)."""

    models: tuple[str, ...]
    gains: np.ndarray  # (n, n), symmetric, zero diagonal
    unplayed: float  # the gain given to a pair with a model the table does not know
    votes: int = 0  # battles the table was built from
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {name: i for i, name in enumerate(self.models)})


def fisher_covariance(counts: np.ndarray, predicted: np.ndarray, *, ridge: float = RIDGE) -> np.ndarray:
    """Covariance of Bradley–Terry logits: the inverse of the information Σ n·p(1 − p)(eᵢ − eⱼ)(eᵢ − eⱼ)ᵀ."""
    p = np.nan_to_num(predicted, nan=0.5)
    weights = np.asarray(counts, dtype=float) * p * (1.0 - p)
    np.fill_diagonal(weights, 0.0)
    information = np.diag(weights.sum(axis=1)) - weights + ridge * np.eye(len(weights))
    return np.linalg.inv(information)


def paper_gains(counts: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """√(Σ/n) − √(Σ/(n+1)) per pair, Σ = n·V; NaN for pairs never played."""
    diagonal = np.diag(covariance)
    variance = np.clip(diagonal[:, None] + diagonal[None, :] - 2.0 * covariance, 0.0, None)
    n = np.asarray(counts, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = n * variance
        gains = np.sqrt(sigma / n) - np.sqrt(sigma / (n + 1.0))
    gains[n <= 0] = np.nan
    np.fill_diagonal(gains, 0.0)
    return gains


def widest_gains(predicted: np.ndarray, covariance: np.ndarray, *, power: int = WIDEST_POWER) -> np.ndarray:
    """Per pair, Σₖ (vₖ/v_max)^power before minus after one more vote on it (vₖ: model k's score variance)."""
    n = len(covariance)
    centre = np.eye(n) - 1.0 / n
    scores = centre @ covariance @ centre  # covariance of the centred scores
    variance = np.clip(np.diag(scores), 0.0, None)
    top = float(variance.max()) or 1.0
    before = (variance / top) ** power
    squarings = int(math.log2(power))
    if 2**squarings != power:
        raise ValueError(f"power must be a power of two, not {power}")
    low, high = np.triu_indices(n, 1)
    p = np.nan_to_num(predicted[low, high], nan=0.5)
    information = p * (1.0 - p)
    gains = np.zeros((n, n))
    for start in range(0, len(low), _CHUNK):
        i, j, w = low[start:start + _CHUNK], high[start:start + _CHUNK], information[start:start + _CHUNK]
        moved = scores[:, i] - scores[:, j]  # covariance of every score with θᵢ − θⱼ
        spread = moved[i, np.arange(len(i))] - moved[j, np.arange(len(i))]  # variance of θᵢ − θⱼ
        np.square(moved, out=moved)
        moved *= w / (top * (1.0 + w * spread))  # rank-one (Sherman–Morrison) drop of each score variance, over top
        after = np.clip(np.subtract(variance[:, None] / top, moved, out=moved), 0.0, None, out=moved)
        for _ in range(squarings):  # x ** power by squaring in place: several times faster than np.power
            np.square(after, out=after)
        gains[i, j] = before.sum() - after.sum(axis=0)
    return gains + gains.T


def build_table(models: Sequence[str], counts: np.ndarray, predicted: np.ndarray, rule: str = "paper") -> PairTable | None:
    """The gains of the leaderboard's pairs; None when they cannot be computed (fewer than two models, no votes, a bad fit)."""
    if rule not in RULES:
        raise ValueError(f"unknown active pairing rule {rule!r}; allowed: {', '.join(RULES)}")
    counts = np.asarray(counts, dtype=float)
    if len(models) < 2 or not np.isfinite(counts).all() or counts.sum() <= 0:
        return None
    try:
        covariance = fisher_covariance(counts, predicted)
    except np.linalg.LinAlgError:
        return None
    gains = paper_gains(counts, covariance) if rule == "paper" else widest_gains(np.asarray(predicted, dtype=float), covariance)
    known = gains[np.isfinite(gains)]
    if not len(known) or not np.isfinite(covariance).all() or known.max() <= 0:
        return None
    unplayed = float(known.max())
    gains = np.where(np.isfinite(gains), gains, unplayed)
    return PairTable(tuple(models), gains, unplayed, votes=int(round(counts.sum() / 2)))


def weight_probabilities(candidates: Sequence[Candidate]) -> tuple[list[str], np.ndarray]:
    """The weights rule's pair probabilities (as :func:`arena.pairing.pair_weights`) as a matrix over names in sorted order.

    Entry [i, j] with i < j is the probability of the unordered pair; the rest is zero.
    """
    usable = sorted((c for c in candidates if c.weight > 0), key=lambda c: c.name)
    if len(usable) < 2:
        pair_weights(candidates)  # raises the weights rule's PairingError, with its message
        raise PairingError("an anonymous battle needs at least two available models with weight > 0")
    names = [c.name for c in usable]
    index = {name: i for i, name in enumerate(names)}
    weight = np.array([c.weight for c in usable], dtype=float)
    boost = np.ones((len(names), len(names)))
    for c in usable:
        for target in c.battle_targets:
            if target in index:
                boost[index[c.name], index[target]] = boost[index[target], index[c.name]] = TARGET_BOOST
    np.fill_diagonal(boost, 0.0)
    second = weight[None, :] * boost  # second[f, s]: weight of s as the partner of f
    ordered = (weight / weight.sum())[:, None] * second / second.sum(axis=1, keepdims=True)
    return names, np.triu(ordered + ordered.T, 1)


def active_probabilities(candidates: Sequence[Candidate], table: PairTable, floor: float) -> tuple[list[str], np.ndarray]:
    """Pair probabilities over the candidates: weights × gains, normalised, with *floor* of the draws by the weights alone."""
    names, base = weight_probabilities(candidates)
    where = np.array([table.index.get(name, -1) for name in names])
    known = where >= 0
    gains = np.full((len(names), len(names)), table.unplayed)
    both = np.ix_(known, known)
    gains[both] = table.gains[np.ix_(where[known], where[known])]
    mixed = base * gains
    total = mixed.sum()
    active = mixed / total if total > 0 else base
    return names, (1.0 - floor) * active + floor * base


def draw_pair(names: Sequence[str], cumulative: np.ndarray, rng: random.Random) -> tuple[str, str]:
    """One pair from the flattened cumulative probabilities of :func:`active_probabilities`, sides at random."""
    n = len(names)
    flat = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    first, second = names[min(flat, n * n - 1) // n], names[min(flat, n * n - 1) % n]
    return (first, second) if rng.random() < 0.5 else (second, first)
