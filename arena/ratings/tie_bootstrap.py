"""Bootstrap intervals for Rao–Kupper: the Bradley–Terry bootstrap's resamples, refitted by chord iterations.

The rounds are drawn exactly as :func:`arena.ratings.bootstrap.bootstrap_logits`
draws them (same merged cells, same seeds), so for one seed both models are
refitted on the same resampled votes. Every round is refitted at once by chord
iterations (Newton steps with the full-data information, factorised once),
in two threads of half the rounds each, like the Bradley–Terry bootstrap;
rounds far from the full data (tiny arenas) fall back to Newton's method one
at a time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit

from arena.ratings.bootstrap import _poisson_fill, _split_rounds
from arena.ratings.bradley_terry import DEFAULT_PRIOR
from arena.ratings.comparisons import Comparisons
from arena.ratings.rao_kupper import PairOutcomes, RaoKupperFit, _newton_terms, fit_rao_kupper_pairs


def rao_kupper_bootstrap(comparisons: Comparisons, fit: RaoKupperFit, *, rounds: int = 100, seed: int = 0,
                         prior: float = DEFAULT_PRIOR, reweight: bool = False) -> np.ndarray:
    """(rounds, n + 1): each multinomial resample's β (mean zero) and, in the last column, its η = log θ."""
    n = comparisons.n_models
    merged = comparisons.merged()
    total = int(merged.count.sum())
    if total == 0 or rounds <= 0 or n < 2:
        return np.zeros((0, n + 1))
    probabilities = merged.count / total
    pairs = PairOutcomes.of(comparisons, comparisons.reweighted() if reweight else None)
    pairs.incidence_t  # built once here, not by both threads

    def part(job: tuple[np.random.Generator, int]) -> np.ndarray:
        generator, size = job
        draws = _poisson_fill(generator, total, probabilities, size)
        weighted = np.stack([merged.reweighted(d) for d in draws]) if reweight else draws.astype(float)
        cells = weighted.reshape(len(weighted), -1, 3)
        refitted = _chord_refits(pairs, fit, cells, prior)
        return refitted if refitted is not None else _newton_refits(pairs, fit, cells, prior)

    # Two threads, each drawing and refitting half of the rounds, as the Bradley–Terry bootstrap does.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return np.concatenate(list(pool.map(part, _split_rounds(rounds, seed))))


def _newton_refits(pairs: PairOutcomes, fit: RaoKupperFit, cells: np.ndarray, prior: float) -> np.ndarray:
    """Every round of *cells* refitted by Newton's method, one at a time (rounds far from the full data)."""
    n = pairs.n_models
    out = np.empty((len(cells), n + 1))
    for r, round_cells in enumerate(cells):
        one = fit_rao_kupper_pairs(pairs.with_counts(round_cells), prior=prior, theta0=fit.theta, log_tie0=max(fit.log_tie, 1e-3), tol=1e-8)
        out[r, :n], out[r, n] = one.theta, one.log_tie
    return out


def _chord_refits(pairs: PairOutcomes, fit: RaoKupperFit, cells: np.ndarray, prior: float, *, tol: float = 1e-6,
                  max_iter: int = 60) -> np.ndarray | None:
    """Every round of *cells* (rounds, pairs, 3) refitted at once from the full-data fit; None if any round strays.

    *tol* is in logits (1e-6 is 0.0004 arena points). A round without ties
    (its maximum on the boundary θ = 1) or one whose iterations leave η > 0 or
    do not settle is left to Newton's method.
    """
    n = pairs.n_models
    won, tied, lost = (np.ascontiguousarray(cells[:, :, k].T) for k in (2, 1, 0))  # (pairs, rounds)
    ties = tied.sum(axis=0)
    free = float(pairs.tied.sum()) > 0
    if free and (ties <= 0).any():
        return None
    size = n + 1 if free else n
    _, information = _newton_terms(pairs, fit.theta, fit.log_tie, prior)
    factor = cho_factor(information[:size, :size])
    ahead, behind = won + tied, lost + tied
    theta = np.repeat(fit.theta[:, None], len(cells), axis=1)
    log_tie = np.full(len(cells), fit.log_tie)
    for _ in range(max_iter):
        diff = pairs.incidence @ theta
        behind_win, behind_loss = ahead * expit(log_tie - diff), behind * expit(log_tie + diff)  # w·(1 − P(win)), l·(1 − P(loss))
        grad = np.empty((size, len(cells)))
        grad[:n] = pairs.incidence_t @ (behind_win - behind_loss) - prior * theta
        if free:
            grow = np.expm1(2.0 * log_tie)
            grad[n] = -behind_win.sum(axis=0) - behind_loss.sum(axis=0) + ties * 2.0 * (grow + 1.0) / grow - prior * log_tie
        step = cho_solve(factor, grad, check_finite=False)
        theta += step[:n]
        if free:
            log_tie += step[n]
        if not np.isfinite(step).all() or (free and (log_tie <= 0).any()):
            return None
        if np.max(np.abs(step)) < tol:
            return np.column_stack([(theta - theta.mean(axis=0)).T, log_tie])
    return None
