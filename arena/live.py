"""A bootstrap kept current as votes arrive, still exactly multinomial after every update.

A multinomial bootstrap round is N' picks, uniform with replacement, among
the N' votes. When k votes join N old ones, the number of picks D that land
on old votes is Binomial(N', N / N'), and given D those picks are D uniform
picks among the old votes. A round that already holds N such picks becomes
one with D picks by dropping N − D of them at random (or adding D − N fresh
ones); the other N' − D picks go to the new votes. Every updated round is
therefore distributed exactly as a fresh draw, at a cost proportional to the
number of cells, and its refit starts from the round's previous logits.

A fresh ``LiveBootstrap`` is bit-identical to a from-scratch bootstrap with the
same seed; after updates its resamples are equally valid but depend on when
votes arrived, so reproducible figures come from a fresh computation (the CLI).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from arena.ratings import DEFAULT_PRIOR, OUTCOME_SCORE, Comparisons, _chord_refits, bootstrap_draws_and_logits, fit_bradley_terry


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
        n = self.merged.n_models
        self._index = {name: i for i, name in enumerate(self.merged.models)}
        pairs = self.merged.a[::3] * n + self.merged.b[::3]
        self._pair_position = {int(p): i for i, p in enumerate(pairs)}

    @property
    def total(self) -> int:
        return int(self.merged.count.sum())

    def cells_of(self, model_a: Sequence[str], model_b: Sequence[str], winner: Sequence[str]) -> np.ndarray:
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
        old_total, cell_count = self.total, len(self.merged.count)
        delta = np.bincount(cells, minlength=cell_count).astype(float)
        new_total = old_total + len(cells)
        old_cdf = np.cumsum(self.merged.count) / old_total
        new_cdf = np.cumsum(delta) / len(cells)
        for r, round_counts in enumerate(self.draws):
            on_old = int(self.rng.binomial(new_total, old_total / new_total))
            if on_old < old_total:  # drop old_total - on_old of this round's picks, uniformly
                positions = self.rng.choice(old_total, old_total - on_old, replace=False)
                dropped = np.searchsorted(np.cumsum(round_counts), positions, side="right")
                round_counts -= np.bincount(dropped, minlength=cell_count)
            elif on_old > old_total:  # add fresh picks among the old votes
                round_counts += np.bincount(_pick(old_cdf, self.rng.random(on_old - old_total)), minlength=cell_count)
            if new_total > on_old:
                round_counts += np.bincount(_pick(new_cdf, self.rng.random(new_total - on_old)), minlength=cell_count)
            self.draws[r] = round_counts
        self.merged = Comparisons(self.merged.models, self.merged.a, self.merged.b, self.merged.score, self.merged.count + delta)
        self.theta = fit_bradley_terry(self.merged.win_matrix(), prior=self.prior, theta0=self.theta)
        halves = [h for h in np.array_split(np.arange(len(self.draws)), 2) if len(h)]
        with ThreadPoolExecutor(max_workers=2) as pool:  # numpy releases the GIL: one half per core
            parts = pool.map(lambda rows: _chord_refits(self.merged, self.draws[rows], self.theta, self.prior, start=self.samples[rows]), halves)
            self.samples = np.concatenate(list(parts))
        self.version = version


def _pick(cdf: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Categories of *uniforms* under a cumulative distribution."""
    return np.minimum(np.searchsorted(cdf, uniforms, side="right"), len(cdf) - 1)
