"""Ratings from votes: Bradley–Terry, confidence intervals, style control, online Elo.

Pure numpy/scipy; no SQL, no UI. The input is aggregated: one row per
(model_a, model_b, outcome) with a count, as the store keeps it, so the cost of
a fit depends on the number of model pairs, not on the number of votes. Only
style control and online Elo need one row per vote, as arrays.

Conventions
-----------
* A tie (``tie`` or ``tie (bothbad)``) counts as half a win for each side.
* Logits are reported on the arena scale: 400 / ln 10 points per logit,
  centred so the average model scores 1000 (or pinned to an anchor model).
* A tiny ridge prior (``DEFAULT_PRIOR`` on the logits) keeps every estimate
  finite: a model with only wins, or a comparison graph in disconnected
  pieces, would otherwise have no maximum-likelihood estimate. With
  thousands of votes its effect is far below a rating point.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol, Sequence

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

SCALE = 400.0 / math.log(10.0)
CENTER = 1000.0
DEFAULT_PRIOR = 1e-3
Z95 = 1.959963984540054
STYLE_FEATURES = ("length", "headers", "lists", "bold")
OUTCOME_SCORE = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


class Outcome(Protocol):
    model_a: str
    model_b: str
    winner: str
    count: int


# --------------------------------------------------------------------------- data
def outcome_scores(winners: Any) -> np.ndarray:
    """Model A's score (1, 0 or ½) for each vote of a winner column (array, list or ``Coded``)."""
    from arena.columnar import encode

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
        """Build from columns (names as arrays or dictionary-encoded :class:`~arena.columnar.Coded`)."""
        from arena.columnar import encode

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


# ----------------------------------------------------------------- Bradley–Terry
def fit_bradley_terry(
    wins: np.ndarray, *, prior: float = DEFAULT_PRIOR, theta0: np.ndarray | None = None, tol: float = 1e-10, max_iter: int = 100
) -> np.ndarray:
    """MAP Bradley–Terry logits (mean zero) for a win matrix, by Newton's method.

    Parameters
    ----------
    wins : (n, n) array; ``wins[i, j]`` = (fractional) wins of i over j.
    prior : ridge penalty on the logits; keeps the estimate finite.
    theta0 : optional starting point (e.g. the full-data fit, for bootstrap rounds).

    Returns
    -------
    (n,) array of logits centred at zero.
    """
    return fit_bradley_terry_batch(wins[None], prior=prior, theta0=None if theta0 is None else theta0[None], tol=tol, max_iter=max_iter)[0]


def fit_bradley_terry_batch(
    wins: np.ndarray, *, prior: float = DEFAULT_PRIOR, theta0: np.ndarray | None = None, tol: float = 1e-8, max_iter: int = 100
) -> np.ndarray:
    """Fit R independent BT problems at once (``wins`` is (R, n, n)); one batched solve per Newton step."""
    rounds, n, _ = wins.shape
    theta = np.zeros((rounds, n)) if theta0 is None else np.array(theta0, dtype=float)
    if n < 2:
        return theta * 0.0
    games = wins + wins.transpose(0, 2, 1)
    diagonal = np.arange(n)
    for _ in range(max_iter):
        p = expit(theta[:, :, None] - theta[:, None, :])
        grad = (wins - games * p).sum(axis=2) - prior * theta
        hessian = games * p * (1.0 - p)  # off-diagonal of the *negative* Hessian, negated below
        hessian[:, diagonal, diagonal] = -hessian.sum(axis=2) - prior
        step = np.linalg.solve(hessian, grad[:, :, None])[:, :, 0]
        theta -= step
        if np.max(np.abs(step)) < tol:
            break
    return theta - theta.mean(axis=1, keepdims=True)


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
        self.incidence = _incidence(low, high, n)
        self.incidence_t = self.incidence.T.tocsr()
        p_hat = expit(theta_hat[low] - theta_hat[high])
        total_games = merged.count.reshape(-1, 3).sum(axis=1)
        self.factor = cho_factor(_laplacian(low, high, total_games * p_hat * (1.0 - p_hat), n) + prior * np.eye(n))

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


def sandwich_covariance(comparisons: Comparisons, theta: np.ndarray, *, prior: float = DEFAULT_PRIOR,
                        counts: np.ndarray | None = None) -> np.ndarray:
    """Robust (sandwich) covariance H⁻¹ J H⁻¹ of the logits, from per-vote score outer products."""
    n = comparisons.n_models
    counts = comparisons.count if counts is None else counts
    a, b = comparisons.a, comparisons.b
    p = expit(theta[a] - theta[b])
    information = _laplacian(a, b, counts * p * (1.0 - p), n) + prior * np.eye(n)
    meat = _laplacian(a, b, counts * (comparisons.score - p) ** 2, n)
    inverse = np.linalg.inv(information)
    return inverse @ meat @ inverse


def _incidence(low: np.ndarray, high: np.ndarray, n: int):
    """Sparse pairs × models matrix with +1 at the lower and −1 at the higher model of each pair."""
    rows = np.arange(len(low))
    return csr_matrix((np.r_[np.ones(len(low)), -np.ones(len(low))], (np.r_[rows, rows], np.r_[low, high])), shape=(len(low), n))


def _laplacian(a: np.ndarray, b: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Σ_k weights[k] (e_a − e_b)(e_a − e_b)ᵀ, built with bincount."""
    pairs = np.bincount(a * n + b, weights=weights, minlength=n * n).reshape(n, n)
    adjacency = pairs + pairs.T
    return np.diag(adjacency.sum(axis=1)) - adjacency


# ---------------------------------------------------------------- presentation
def scale_logits(theta: np.ndarray, *, anchor: int | None = None, anchor_score: float = CENTER) -> np.ndarray:
    """Logits on the arena scale; rows of a 2-D array are scaled independently."""
    theta = np.asarray(theta, dtype=float)
    reference = theta[..., anchor][..., None] if anchor is not None else theta.mean(axis=-1, keepdims=True)
    return anchor_score + SCALE * (theta - reference)


def contrast(n: int, anchor: int | None) -> np.ndarray:
    """Linear map from logits to reported (centred or anchored) logits, for covariance propagation."""
    if anchor is None:
        return np.eye(n) - np.full((n, n), 1.0 / n)
    matrix = np.eye(n)
    matrix[:, anchor] -= 1.0
    return matrix


def rank_upper_bound(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Rank (UB): 1 + number of models whose lower bound exceeds this model's upper bound."""
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)


def online_elo(a: Sequence[int], b: Sequence[int], score: Sequence[float], n_models: int, *,
               k: float = 4.0, base: float = 10.0, scale: float = 400.0, initial: float = 1000.0,
               start: Sequence[float] | None = None) -> np.ndarray:
    """Classic online Elo in vote order (secondary column; order-dependent by design).

    *start* continues from earlier ratings, so new votes can be folded in incrementally.
    """
    ratings = [initial] * n_models if start is None else [float(r) for r in start]
    for i, j, s in zip(a, b, score):
        expected = 1.0 / (1.0 + base ** ((ratings[j] - ratings[i]) / scale))
        delta = k * (s - expected)
        ratings[i] += delta
        ratings[j] -= delta
    return np.array(ratings)


def connected_groups(comparisons: Comparisons) -> int:
    """Number of connected pieces of the comparison graph."""
    n = comparisons.n_models
    if n == 0:
        return 0
    graph = coo_matrix((np.ones(len(comparisons.a)), (comparisons.a, comparisons.b)), shape=(n, n))
    return int(connected_components(graph, directed=False)[0])


# ----------------------------------------------------------------- style control
@dataclass(frozen=True)
class StyleFit:
    theta: np.ndarray          # model logits (mean zero)
    coefficients: np.ndarray   # one per STYLE_FEATURES, per standard deviation of the feature
    covariance: np.ndarray     # sandwich covariance of (theta, coefficients)
    n_votes: int


def style_design(style_a: np.ndarray, style_b: np.ndarray) -> np.ndarray:
    """Per-vote covariates (a − b) / (a + b) for each feature, standardized over the votes (N × 4).

    Counts are non-negative, so a + b = 0 only where a − b = 0 too (covariate 0).
    Written with in-place operations: at millions of votes each temporary costs
    more than the arithmetic.
    """
    design = np.subtract(style_a, style_b, dtype=float)
    total = np.add(style_a, style_b, dtype=float)
    np.divide(design, total, out=design, where=total != 0)
    del total
    if len(design) == 0:
        return design
    design -= design.mean(axis=0)
    std = np.sqrt(np.einsum("ij,ij->j", design, design) / len(design))
    design /= np.where(std > 0, std, 1.0)
    return design


def fit_style_control(a: np.ndarray, b: np.ndarray, score: np.ndarray, design: np.ndarray, n_models: int, *,
                      l2: float = 1.0, tol: float = 1e-7, max_iter: int = 50, theta0: np.ndarray | None = None) -> StyleFit:
    """Bradley–Terry with per-vote style covariates, L2-regularized, by Newton's method.

    η = θ_a − θ_b + x·γ; the loss is the logistic loss with fractional targets
    (ties = ½) plus ``l2/2 · (|θ|² + |γ|²)``. *theta0* (e.g. the plain fit)
    starts Newton close to the answer. The sandwich's bread is the information
    of the last Newton step (taken within *tol* of the optimum), so each
    iteration costs one pass over the votes and the covariance one more.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    y = np.asarray(score, dtype=float)
    features = np.ascontiguousarray(np.asarray(design, dtype=float).T)  # (k, votes): contiguous per feature
    n, k = n_models, features.shape[0]
    pair = a * n + b
    theta = np.zeros(n) if theta0 is None else np.array(theta0, dtype=float)
    gamma = np.zeros(k)
    for _ in range(max_iter):
        p = expit(theta[a] - theta[b] + gamma @ features)
        residual = y - p
        grad = np.concatenate([_scatter(pair, residual, n) - l2 * theta, features @ residual - l2 * gamma])
        information = _style_information(pair, features, p * (1.0 - p), n) + l2 * np.eye(n + k)
        step = np.linalg.solve(information, grad)
        theta += step[:n]
        gamma += step[n:]
        if np.max(np.abs(step)) < tol:
            break
    meat = _style_information(pair, features, residual**2, n)
    inverse = np.linalg.inv(information)
    return StyleFit(theta=theta - theta.mean(), coefficients=gamma, covariance=inverse @ meat @ inverse, n_votes=len(y))


def _scatter(pair: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Σ values over votes, +1 at model A and −1 at model B (one bincount over the ordered pairs)."""
    per_pair = np.bincount(pair, values, n * n).reshape(n, n)
    return per_pair.sum(axis=1) - per_pair.sum(axis=0)


def _style_information(pair: np.ndarray, features: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """Σ w g gᵀ with g = (e_a − e_b, x): the Fisher information (or the sandwich's meat). *features* is (k, votes)."""
    k = features.shape[0]
    out = np.zeros((n + k, n + k))
    per_pair = np.bincount(pair, weight, n * n).reshape(n, n)
    adjacency = per_pair + per_pair.T
    out[:n, :n] = np.diag(adjacency.sum(axis=1)) - adjacency
    weighted = features * weight
    cross = np.stack([_scatter(pair, weighted[j], n) for j in range(k)], axis=1)
    out[:n, n:] = cross
    out[n:, :n] = cross.T
    out[n:, n:] = weighted @ features.T
    return out


# ------------------------------------------------------------------ leaderboard
@dataclass(frozen=True)
class RatingRow:
    rank: int
    model: str
    score: float
    ci_low: float
    ci_high: float
    sandwich_low: float
    sandwich_high: float
    votes: int
    wins: float
    elo: float | None = None


@dataclass
class Ratings:
    """Everything a leaderboard shows, for one category."""

    rows: list[RatingRow]
    models: list[str]                 # matrix order (by score, shown models only)
    win_fraction: np.ndarray
    battle_counts: np.ndarray
    predicted: np.ndarray
    total_votes: int
    notes: list[str] = field(default_factory=list)
    style_coefficients: dict[str, tuple[float, float]] | None = None  # feature -> (coefficient, standard error)
    ci_method: str = "bootstrap"


def compute_ratings(
    comparisons: Comparisons,
    *,
    rounds: int = 100,
    seed: int = 0,
    prior: float = DEFAULT_PRIOR,
    reweight: bool = False,
    min_votes: int = 0,
    anchor_model: str | None = None,
    anchor_score: float = CENTER,
    ci_method: str = "bootstrap",
    elo: dict[str, float] | None = None,
    style: StyleFit | None = None,
    fitted: tuple[np.ndarray, np.ndarray] | None = None,
) -> Ratings:
    """Fit, intervals (bootstrap and sandwich), ranks and matrices from aggregated comparisons.

    With *style*, the style-adjusted logits replace the plain fit and both
    intervals come from the style fit's sandwich covariance (a bootstrap over
    millions of per-vote rows would cost a hundred refits). *fitted* passes in
    (logits, bootstrap logits) already computed for exactly these comparisons,
    e.g. kept up to date incrementally by :class:`arena.live.LiveBootstrap`.
    """
    notes: list[str] = []
    n = comparisons.n_models
    total = int(comparisons.count.sum())
    if n == 0:
        return Ratings([], [], np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)), 0, ["No votes yet."], ci_method=ci_method)
    counts = comparisons.reweighted() if reweight else comparisons.count
    if reweight:
        notes.append("Votes reweighted by inverse pair frequency.")
    wins = comparisons.win_matrix(counts)
    anchor = comparisons.models.index(anchor_model) if anchor_model in comparisons.models else None
    if anchor_model and anchor is None:
        notes.append(f"Anchor model {anchor_model!r} has no votes here; scores are centred at {anchor_score:g} instead.")
    transform = contrast(n, anchor)

    if style is None and fitted is not None:
        theta, samples = fitted
        covariance = sandwich_covariance(comparisons, theta, prior=prior, counts=counts)
    elif style is None:
        theta = fit_bradley_terry(wins, prior=prior)
        covariance = sandwich_covariance(comparisons, theta, prior=prior, counts=counts)
        samples = bootstrap_logits(comparisons, rounds=rounds, seed=seed, prior=prior, reweight=reweight, theta0=theta)
    else:
        theta, covariance = style.theta, style.covariance[:n, :n]
        samples = np.zeros((0, n))
        ci_method = "sandwich"
        notes.append(f"Style control: ratings adjusted for {', '.join(STYLE_FEATURES)}; intervals from the sandwich estimate.")
    scores = scale_logits(theta, anchor=anchor, anchor_score=anchor_score)
    half_width = Z95 * SCALE * np.sqrt(np.clip(np.diag(transform @ covariance @ transform.T), 0.0, None))
    sandwich_low, sandwich_high = scores - half_width, scores + half_width
    if len(samples):
        boot = scale_logits(samples, anchor=anchor, anchor_score=anchor_score)
        ci_low, ci_high = np.percentile(boot, 2.5, axis=0), np.percentile(boot, 97.5, axis=0)
    else:
        ci_low, ci_high = sandwich_low, sandwich_high
    low, high = (ci_low, ci_high) if ci_method == "bootstrap" else (sandwich_low, sandwich_high)

    raw_wins = comparisons.win_matrix()
    games = (raw_wins + raw_wins.T).sum(axis=1)
    shown = np.array([games[i] >= min_votes for i in range(n)])
    if not shown.all():
        notes.append(f"{int((~shown).sum())} model(s) with fewer than {min_votes} votes hidden.")
    groups = connected_groups(comparisons)
    if groups > 1:
        notes.append(f"The comparison graph has {groups} disconnected groups: scores across groups are not comparable (a tiny prior keeps them finite).")
    played = raw_wins.sum(axis=1)
    lost = raw_wins.sum(axis=0)
    for i in range(n):
        if shown[i] and games[i] > 0 and (lost[i] == 0 or played[i] == 0):
            kind = "only wins" if lost[i] == 0 else "only losses"
            notes.append(f"{comparisons.models[i]} has {kind}: its score is held finite by the prior and its interval is wide.")

    index = [i for i in np.argsort(-scores) if shown[i]]
    ranks = rank_upper_bound(low[index], high[index]) if index else np.array([], dtype=int)
    rows = [
        RatingRow(
            rank=int(rank), model=comparisons.models[i], score=float(scores[i]),
            ci_low=float(low[i]), ci_high=float(high[i]),
            sandwich_low=float(sandwich_low[i]), sandwich_high=float(sandwich_high[i]),
            votes=int(round(games[i])), wins=float(played[i]),
            elo=None if elo is None else elo.get(comparisons.models[i]),
        )
        for rank, i in zip(ranks, index)
    ]
    order = np.array(index, dtype=int)
    raw_games = raw_wins + raw_wins.T
    with np.errstate(divide="ignore", invalid="ignore"):
        win_fraction = np.where(raw_games > 0, raw_wins / raw_games, np.nan)[np.ix_(order, order)]
    predicted = expit(theta[:, None] - theta[None, :])[np.ix_(order, order)]
    np.fill_diagonal(predicted, np.nan)
    style_coefficients = None
    if style is not None:
        errors = np.sqrt(np.clip(np.diag(style.covariance[n:, n:]), 0.0, None))
        style_coefficients = {name: (float(c), float(e)) for name, c, e in zip(STYLE_FEATURES, style.coefficients, errors)}
    return Ratings(
        rows=rows, models=[comparisons.models[i] for i in index], win_fraction=win_fraction,
        battle_counts=raw_games[np.ix_(order, order)], predicted=predicted, total_votes=total,
        notes=notes, style_coefficients=style_coefficients, ci_method=ci_method,
    )
