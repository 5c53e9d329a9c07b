"""Bootstrap intervals: exact multinomial resamples of the votes, refitted by chord iterations.

Cells are first merged per unordered pair and outcome
(:meth:`~arena.ratings.comparisons.Comparisons.merged`), which leaves the
distribution of every round's win matrix unchanged but draws fewer categories.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit

from arena.ratings.bradley_terry import DEFAULT_PRIOR, fit_bradley_terry, fit_bradley_terry_batch
from arena.ratings.comparisons import Comparisons
from arena.ratings.matrices import incidence, laplacian


def bootstrap_logits(comparisons: Comparisons, *, rounds: int = 100, seed: int = 0, prior: float = DEFAULT_PRIOR,
                     reweight: bool = False, theta0: np.ndarray | None = None) -> np.ndarray:
    """Logits of *rounds* multinomial resamplings of the votes (seeded: reproducible). Shape (rounds, n).

    The resampling is exact: every round draws as many votes as there are,
    multinomially over the cells. Cells are first merged per unordered pair and
    outcome, which leaves the distribution of every round's win matrix
    unchanged but draws fewer categories. Two threads (numpy releases the GIL),
    seeded from *seed*, each draw half of the rounds (see :func:`_poisson_fill`)
    and refit them by chord iterations (Newton steps with the full-data Hessian,
    factorised once), which converge to the same optimum as Newton's method.
    """
    n = comparisons.n_models
    total = int(comparisons.count.sum())
    if total == 0 or rounds <= 0 or n < 2:
        return np.zeros((0, n))
    merged = comparisons.merged()
    theta = fit_bradley_terry(comparisons.win_matrix(comparisons.reweighted() if reweight else None), prior=prior) if theta0 is None else theta0
    return bootstrap_draws_and_logits(merged, theta, rounds=rounds, seed=seed, prior=prior, reweight=reweight)[1]


def bootstrap_draws_and_logits(merged: Comparisons, theta: np.ndarray, *, rounds: int, seed: int, prior: float = DEFAULT_PRIOR,
                               reweight: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The resampled cell counts (rounds × cells) of *merged* comparisons and their refitted logits."""
    total = int(merged.count.sum())
    probabilities = merged.count / total

    def part(job: tuple[np.random.Generator, int]) -> tuple[np.ndarray, np.ndarray]:
        generator, size = job
        draws = _poisson_fill(generator, total, probabilities, size)
        weighted = np.stack([merged.reweighted(d) for d in draws]) if reweight else draws
        return draws, _chord_refits(merged, weighted, theta, prior)

    # Two threads, each drawing and refitting half of the rounds (numpy releases the GIL in both).
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(part, _split_rounds(rounds, seed)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _split_rounds(rounds: int, seed: int) -> list[tuple[np.random.Generator, int]]:
    """Two independent generators spawned from *seed*, with half of the rounds each."""
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)]
    return [(g, size) for g, size in zip(generators, (rounds - rounds // 2, rounds // 2)) if size]


def _poisson_fill(rng: np.random.Generator, total: int, probabilities: np.ndarray, rounds: int) -> np.ndarray:
    """(rounds, cells) exact Multinomial(total, probabilities) counts.

    Each round draws independent Poisson counts with a mean a little below
    *total* (rejecting the rare round that overshoots), then places the few
    thousand missing votes one by one from the cumulative distribution. Given
    their sum, Poisson counts are multinomial, and so is the completed draw,
    at about half the cost of numpy's per-cell binomial chain.
    """
    cells = len(probabilities)
    cdf = np.cumsum(probabilities)
    cdf /= cdf[-1]
    mean = probabilities * max(total - 3.0 * math.sqrt(total), 0.0)
    out = np.empty((rounds, cells), dtype=np.int64)
    for r in range(rounds):
        counts = rng.poisson(mean)
        while counts.sum() > total:  # probability ≈ 0.1 %: draw this round again
            counts = rng.poisson(mean)
        missing = total - int(counts.sum())
        if missing:
            cell = np.minimum(np.searchsorted(cdf, rng.random(missing), side="right"), cells - 1)
            counts += np.bincount(cell, minlength=cells)
        out[r] = counts
    return out


def pair_games_and_wins(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair games and wins of the lower model, (pairs, rounds), from merged cell counts (rounds, cells)."""
    per_pair = draws.reshape(len(draws), -1, 3)                                          # (rounds, pairs, outcome)
    games = np.ascontiguousarray(per_pair.sum(axis=2, dtype=float).T)
    wins = np.ascontiguousarray((per_pair[:, :, 2] + 0.5 * per_pair[:, :, 1]).T)
    return games, wins


class ChordRefitter:
    """Refits bootstrap rounds by chord iterations: Newton steps with one fixed Hessian, factorised once.

    The Hessian is the full-data one at *theta_hat*. Every round's optimum is
    close to the full-data fit, so the iterations contract fast and converge to
    the same optimum Newton's method finds, at the cost of one sparse product
    and one triangular solve per step for all rounds at once.
    """

    def __init__(self, merged: Comparisons, theta_hat: np.ndarray, prior: float) -> None:
        n = merged.n_models
        low, high = merged.a[::3], merged.b[::3]
        self.prior = prior
        self.incidence = incidence(low, high, n)
        self.incidence_t = self.incidence.T.tocsr()
        p_hat = expit(theta_hat[low] - theta_hat[high])
        total_games = merged.count.reshape(-1, 3).sum(axis=1)
        self.factor = cho_factor(laplacian(low, high, total_games * p_hat * (1.0 - p_hat), n) + prior * np.eye(n))

    def solve(self, gradient: np.ndarray) -> np.ndarray:
        """The chord step for a gradient (models, rounds)."""
        return cho_solve(self.factor, gradient, check_finite=False)

    def refit(self, games: np.ndarray, wins: np.ndarray, start: np.ndarray, *, tol: float = 1e-5,
              max_iter: int = 60) -> np.ndarray | None:
        """Logits (models, rounds) for per-pair *games* and *wins* (pairs, rounds), from *start*; None if not converged.

        *tol* is in logits: 1e-5 is about 0.004 arena points, far below what a
        percentile interval can resolve. Arrays are reused across iterations
        (fresh large allocations cost more than the arithmetic here).
        """
        theta = np.array(start, dtype=float, order="C")
        residual = np.empty_like(wins)
        for _ in range(max_iter):
            expit(self.incidence @ theta, out=residual)
            np.multiply(games, residual, out=residual)
            np.subtract(wins, residual, out=residual)
            step = self.solve(self.incidence_t @ residual - self.prior * theta)
            theta += step
            if np.max(np.abs(step)) < tol:
                return theta
        return None


def _chord_refits(merged: Comparisons, draws: np.ndarray, theta_hat: np.ndarray, prior: float,
                  tol: float = 1e-5, max_iter: int = 60, start: np.ndarray | None = None) -> np.ndarray:
    """Logits (rounds, models) of every round of *draws*, refitted from *start* (default: the full-data fit)."""
    games, wins = pair_games_and_wins(draws)
    begin = np.repeat(theta_hat[:, None], len(draws), axis=1) if start is None else start.T
    theta = ChordRefitter(merged, theta_hat, prior).refit(games, wins, begin, tol=tol, max_iter=max_iter)
    if theta is None:  # far from the full-data fit (tiny samples): finish with exact Newton steps
        theta = fit_bradley_terry_batch(np.stack([merged.win_matrix(d) for d in draws]), prior=prior, theta0=begin.T, tol=tol)
        return theta - theta.mean(axis=1, keepdims=True)
    theta = theta.T
    return theta - theta.mean(axis=1, keepdims=True)
