"""A bootstrap kept current as votes arrive, still exactly multinomial after every update.

A multinomial bootstrap round is N' picks, uniform with replacement, among
the N' votes. When k votes join N old ones, the number of picks D that land
on old votes is Binomial(N', N / N'), and given D those picks are D uniform
picks among the old votes. A round that already holds N such picks becomes
one with D picks by dropping N − D of them at random (or adding D − N fresh
ones); the other N' − D picks go to the new votes. Every updated round is
therefore distributed exactly as a fresh draw. Only the moved picks are
touched (about k per round, plus one cumulative sum to locate the dropped
ones). Each round's refit starts from its previous logits moved by one chord
step computed from the changed cells alone, so one or two full iterations
confirm convergence.

A fresh ``LiveBootstrap`` is bit-identical to a from-scratch bootstrap with the
same seed; after updates its resamples are equally valid but depend on when
votes arrived, so reproducible figures come from a fresh computation (the CLI).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.special import expit

from arena.domain import OUTCOME_SCORE
from arena.ratings import (
    DEFAULT_PRIOR,
    ChordRefitter,
    Comparisons,
    _chord_refits,
    bootstrap_draws_and_logits,
    fit_bradley_terry,
    pair_games_and_wins,
)

Names = Sequence[str] | np.ndarray  # model or winner names per vote: a list, or an object array from Coded.decode()


class LayoutChanged(Exception):
    """New votes involve a model pair the resamples have no cells for: start afresh."""


class LiveBootstrap:
    """Merged comparisons, the MLE and the bootstrap resamples, updated vote by vote."""

    def __init__(self, comparisons: Comparisons, *, version: int, rounds: int = 100, seed: int = 0, prior: float = DEFAULT_PRIOR) -> None:
        self.merged = comparisons.merged()
        self.version = version
        self.prior = prior
        self.rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])  # not the seeds of the first draws
        self.theta = fit_bradley_terry(self.merged.win_matrix(), prior=prior)
        self.draws, self.samples = bootstrap_draws_and_logits(self.merged, self.theta, rounds=rounds, seed=seed, prior=prior)
        self.games, self.wins = pair_games_and_wins(self.draws)  # (pairs, rounds), kept current with the draws
        self._cumulative = np.cumsum(self.draws.ravel())  # reused by add(); written once here so its pages exist
        n = self.merged.n_models
        self._index = {name: i for i, name in enumerate(self.merged.models)}
        pairs = self.merged.a[::3] * n + self.merged.b[::3]
        self._pair_position = {int(p): i for i, p in enumerate(pairs)}

    @property
    def total(self) -> int:
        return int(self.merged.count.sum())

    def cells_of(self, model_a: Names, model_b: Names, winner: Names) -> np.ndarray:
        """Merged-cell index of each vote; raises :class:`LayoutChanged` for an unknown model or pair."""
        n = self.merged.n_models
        cells = np.empty(len(model_a), dtype=np.int64)
        for k, (a, b, w) in enumerate(zip(model_a, model_b, winner)):
            if a == b:
                raise LayoutChanged(f"self-battle of {a}")
            try:
                i, j = self._index[a], self._index[b]
                score = OUTCOME_SCORE[w] if i < j else 1.0 - OUTCOME_SCORE[w]
                cells[k] = self._pair_position[min(i, j) * n + max(i, j)] * 3 + int(score * 2)
            except KeyError:
                raise LayoutChanged(f"new model or pair: {a} vs {b}") from None
        return cells

    def add(self, cells: np.ndarray, version: int) -> None:
        """Fold votes (as merged-cell indices) into the counts, every resample and every fit."""
        if len(cells) == 0:
            self.version = version
            return
        old_total, cell_count, rounds = self.total, len(self.merged.count), len(self.draws)
        delta = np.bincount(cells, minlength=cell_count).astype(float)
        new_total = old_total + len(cells)
        on_old = self.rng.binomial(new_total, old_total / new_total, size=rounds)  # picks landing on old votes
        changes: list[tuple[np.ndarray, np.ndarray, int]] = []  # (round, cell, ±1) per pick moved

        dropping = np.flatnonzero(on_old < old_total)
        if len(dropping):  # drop old_total - on_old of the round's picks, uniformly without replacement
            positions = np.concatenate([r * old_total + self.rng.choice(old_total, old_total - on_old[r], replace=False)
                                        for r in dropping])
            # Every round sums to old_total, so the flattened cumulative sum finds round and cell at once.
            np.cumsum(self.draws.ravel(), out=self._cumulative)  # a kept buffer: a fresh one page-faults every time
            flat = np.searchsorted(self._cumulative, positions, side="right")
            changes.append((flat // cell_count, flat % cell_count, -1))
        extra = np.clip(on_old - old_total, 0, None)
        if extra.any():  # add fresh picks among the old votes
            changes.append((np.repeat(np.arange(rounds), extra), _pick(np.cumsum(self.merged.count) / old_total,
                                                                       self.rng.random(int(extra.sum()))), 1))
        fresh = new_total - on_old
        if fresh.any():  # the remaining picks go to the new votes
            changes.append((np.repeat(np.arange(rounds), fresh), _pick(np.cumsum(delta) / len(cells),
                                                                       self.rng.random(int(fresh.sum()))), 1))
        start = self.samples.T.copy()  # (models, rounds)
        gradient = np.zeros_like(start)  # change of every round's gradient at its old logits
        low, high = self.merged.a[::3], self.merged.b[::3]
        for round_index, cell, sign in changes:
            np.add.at(self.draws, (round_index, cell), sign)
            np.add.at(self.games, (cell // 3, round_index), float(sign))
            np.add.at(self.wins, (cell // 3, round_index), sign * 0.5 * (cell % 3))
            first, second = low[cell // 3], high[cell // 3]
            residual = sign * (0.5 * (cell % 3) - expit(start[first, round_index] - start[second, round_index]))
            np.add.at(gradient, (first, round_index), residual)
            np.add.at(gradient, (second, round_index), -residual)

        self.merged = Comparisons(self.merged.models, self.merged.a, self.merged.b, self.merged.score, self.merged.count + delta)
        self.theta = fit_bradley_terry(self.merged.win_matrix(), prior=self.prior, theta0=self.theta)
        refitter = ChordRefitter(self.merged, self.theta, self.prior)
        # One chord step from the few changed cells alone (cheap), then full iterations confirm convergence.
        start += refitter.solve(gradient)
        theta = refitter.refit(self.games, self.wins, start)
        if theta is None:  # a big jump (few votes so far): exact Newton steps instead
            self.samples = _chord_refits(self.merged, self.draws, self.theta, self.prior, start=self.samples)
        else:
            self.samples = (theta - theta.mean(axis=0)).T
        self.version = version


def _pick(cdf: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Categories of *uniforms* under a cumulative distribution."""
    return np.minimum(np.searchsorted(cdf, uniforms, side="right"), len(cdf) - 1)
