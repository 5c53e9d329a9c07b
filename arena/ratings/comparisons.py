"""The input of every fit: votes aggregated into cells (model a, model b, score, count).

The cost of a fit depends on the number of cells (model pairs times
outcomes), not on the number of votes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from arena.coded import encode
from arena.domain import OUTCOME_SCORE


class Outcome(Protocol):
    """Read-only, so frozen records (the store's ``OutcomeCount``) fit."""

    @property
    def model_a(self) -> str: ...
    @property
    def model_b(self) -> str: ...
    @property
    def winner(self) -> str: ...
    @property
    def count(self) -> int: ...


def outcome_scores(winners: Any) -> np.ndarray:
    """Model A's score (1, 0 or ½) for each vote of a winner column (array, list or ``Coded``)."""
    coded = encode(winners)
    return np.array([OUTCOME_SCORE[w] for w in coded.labels])[coded.codes] if len(coded) else np.zeros(0)


@dataclass(frozen=True)
class Comparisons:
    """Aggregated outcomes: cell k says model ``a[k]`` scored ``score[k]`` against ``b[k]``, ``count[k]`` times."""

    models: list[str]
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    count: np.ndarray

    @property
    def n_models(self) -> int:
        return len(self.models)

    @classmethod
    def from_columns(cls, model_a: Any, model_b: Any, winner: Any, count: np.ndarray) -> Comparisons:
        """Build from columns (names as arrays or dictionary-encoded :class:`~arena.coded.Coded`)."""
        model_a, model_b, winner = encode(model_a), encode(model_b), encode(winner)
        names = sorted(set(model_a.labels) | set(model_b.labels))
        index = {m: i for i, m in enumerate(names)}
        a, b = model_a.recode(index), model_b.recode(index)
        score = outcome_scores(winner)
        count = np.asarray(count, dtype=float)
        keep = (a != b) & (count > 0)
        present = np.unique(np.concatenate([a[keep], b[keep]]))
        renumber = np.full(len(names), -1, dtype=np.int64)
        renumber[present] = np.arange(len(present))
        return cls([names[i] for i in present], renumber[a[keep]], renumber[b[keep]], score[keep], count[keep])

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[Outcome]) -> Comparisons:
        rows = [o for o in outcomes if o.count > 0 and o.model_a != o.model_b]
        models = sorted({o.model_a for o in rows} | {o.model_b for o in rows})
        index = {m: i for i, m in enumerate(models)}
        return cls(
            models=models,
            a=np.array([index[o.model_a] for o in rows], dtype=np.int64),
            b=np.array([index[o.model_b] for o in rows], dtype=np.int64),
            score=np.array([OUTCOME_SCORE[o.winner] for o in rows], dtype=float),
            count=np.array([o.count for o in rows], dtype=float),
        )

    def win_matrix(self, counts: np.ndarray | None = None) -> np.ndarray:
        """W[i, j] = (fractional) wins of i over j."""
        n = self.n_models
        counts = self.count if counts is None else counts
        wins = np.bincount(self.a * n + self.b, weights=counts * self.score, minlength=n * n)
        wins += np.bincount(self.b * n + self.a, weights=counts * (1.0 - self.score), minlength=n * n)
        return wins.reshape(n, n)

    def merged(self) -> Comparisons:
        """The same votes as three cells per unordered pair (lower index first): lower loses, tie, lower wins.

        Cells with no votes are kept, so ``count.reshape(-1, 3)`` has one row per pair.
        """
        n = self.n_models
        flip = self.a > self.b
        low, high = np.where(flip, self.b, self.a), np.where(flip, self.a, self.b)
        outcome = (np.where(flip, 1.0 - self.score, self.score) * 2).astype(np.int64)
        pairs, pair_index = np.unique(low * n + high, return_inverse=True)
        counts = np.bincount(pair_index * 3 + outcome, weights=self.count, minlength=3 * len(pairs))
        return Comparisons(self.models, np.repeat(pairs // n, 3), np.repeat(pairs % n, 3), np.tile([0.0, 0.5, 1.0], len(pairs)), counts)

    def reweighted(self, counts: np.ndarray | None = None) -> np.ndarray:
        """Counts scaled so every model pair weighs the same in total (undoes uneven pair sampling)."""
        counts = self.count if counts is None else counts
        n = self.n_models
        pair = np.minimum(self.a, self.b) * n + np.maximum(self.a, self.b)
        totals = np.bincount(pair, weights=counts, minlength=n * n)
        present = totals > 0
        target = totals[present].mean() if present.any() else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(totals[pair] > 0, target / totals[pair], 0.0)
        return counts * factor


def connected_groups(comparisons: Comparisons) -> int:
    """Number of connected pieces of the comparison graph (scores across pieces are not comparable)."""
    n = comparisons.n_models
    if n == 0:
        return 0
    graph = coo_matrix((np.ones(len(comparisons.a)), (comparisons.a, comparisons.b)), shape=(n, n))
    return int(connected_components(graph, directed=False)[0])
