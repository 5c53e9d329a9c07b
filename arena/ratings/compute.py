"""One category's leaderboard from aggregated comparisons: fit, intervals, ranks, notes and matrices."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from arena.ratings.bootstrap import bootstrap_logits
from arena.ratings.bradley_terry import DEFAULT_PRIOR, fit_bradley_terry
from arena.ratings.comparisons import Comparisons, connected_groups
from arena.ratings.honest import honest_bounds, provisional
from arena.ratings.sandwich import sandwich_covariance
from arena.ratings.scaling import CENTER, SCALE, contrast, rank_upper_bound, scale_logits
from arena.ratings.style import STYLE_FEATURES, StyleFit

Z95 = 1.959963984540054


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
    provisional: bool = False  # fewer votes than the board's provisional threshold


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


@dataclass(frozen=True)
class _Fit:
    """Logits (models), their covariance (models × models) and bootstrap logits (rounds × models; none for sandwich-only)."""

    theta: np.ndarray
    covariance: np.ndarray
    samples: np.ndarray


@dataclass(frozen=True)
class _Intervals:
    """Per model, on the arena scale: the score, the reported 95 % interval and the sandwich one."""

    scores: np.ndarray
    low: np.ndarray
    high: np.ndarray
    sandwich_low: np.ndarray
    sandwich_high: np.ndarray


@dataclass(frozen=True)
class _Tally:
    """The raw (never reweighted) votes behind the table: what rows and matrices show, whatever the fit weighed."""

    wins: np.ndarray   # W[i, j]: (fractional) wins of i over j
    games: np.ndarray  # votes per model
    shown: np.ndarray  # per model: enough votes to be listed

    @property
    def won(self) -> np.ndarray:
        return self.wins.sum(axis=1)

    @property
    def lost(self) -> np.ndarray:
        return self.wins.sum(axis=0)


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
    provisional_votes: int = 0,
) -> Ratings:
    """Fit, intervals (bootstrap and sandwich), ranks and matrices from aggregated comparisons.

    With *style*, the style-adjusted logits replace the plain fit and both
    intervals come from the style fit's sandwich covariance (a bootstrap over
    millions of per-vote rows would cost a hundred refits). *fitted* passes in
    (logits, bootstrap logits) already computed for exactly these comparisons,
    e.g. kept up to date incrementally by :class:`arena.live.LiveBootstrap`.
    Intervals are corrected by :mod:`arena.ratings.honest` (unbounded where
    the data are one-sided, never excluding the score); models with fewer
    than *provisional_votes* votes are marked provisional.
    """
    n = comparisons.n_models
    if n == 0:
        return Ratings([], [], np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)), 0, ["No votes yet."], ci_method=ci_method)
    notes: list[str] = []
    counts = comparisons.reweighted() if reweight else comparisons.count
    if reweight:
        notes.append("Votes reweighted by inverse pair frequency.")
    anchor = comparisons.models.index(anchor_model) if anchor_model in comparisons.models else None
    if anchor_model and anchor is None:
        notes.append(f"Anchor model {anchor_model!r} has no votes here; scores are centred at {anchor_score:g} instead.")
    fit = _fit(comparisons, counts, rounds=rounds, seed=seed, prior=prior, reweight=reweight, style=style, fitted=fitted)
    if style is not None:
        ci_method = "sandwich"
        notes.append(f"Style control: ratings adjusted for {', '.join(STYLE_FEATURES)}; intervals from the sandwich estimate.")
    tally = _tally(comparisons, min_votes)
    intervals = _honest(_intervals(fit, n, anchor=anchor, anchor_score=anchor_score, ci_method=ci_method), tally, anchor)
    notes += _coverage_notes(comparisons, tally, min_votes)
    index = [i for i in np.argsort(-intervals.scores) if tally.shown[i]]
    win_fraction, battle_counts, predicted = _matrices(fit.theta, tally, index)
    return Ratings(
        rows=_rows(comparisons.models, index, intervals, tally, elo, provisional(tally.games, provisional_votes)), models=[comparisons.models[i] for i in index],
        win_fraction=win_fraction, battle_counts=battle_counts, predicted=predicted, total_votes=int(comparisons.count.sum()),
        notes=notes, style_coefficients=_style_coefficients(style, n), ci_method=ci_method,
    )


def _fit(comparisons: Comparisons, counts: np.ndarray, *, rounds: int, seed: int, prior: float, reweight: bool,
         style: StyleFit | None, fitted: tuple[np.ndarray, np.ndarray] | None) -> _Fit:
    """The style fit's logits and covariance if given, else the passed-in or a fresh BT fit with its bootstrap."""
    n = comparisons.n_models
    if style is not None:
        return _Fit(style.theta, style.covariance[:n, :n], np.zeros((0, n)))
    if fitted is not None:
        theta, samples = fitted
        return _Fit(theta, sandwich_covariance(comparisons, theta, prior=prior, counts=counts), samples)
    theta = fit_bradley_terry(comparisons.win_matrix(counts), prior=prior)
    covariance = sandwich_covariance(comparisons, theta, prior=prior, counts=counts)
    samples = bootstrap_logits(comparisons, rounds=rounds, seed=seed, prior=prior, reweight=reweight, theta0=theta)
    return _Fit(theta, covariance, samples)


def _intervals(fit: _Fit, n: int, *, anchor: int | None, anchor_score: float, ci_method: str) -> _Intervals:
    """Scores and 95 % intervals: bootstrap percentiles (when there are samples) and the sandwich's normal interval."""
    transform = contrast(n, anchor)
    scores = scale_logits(fit.theta, anchor=anchor, anchor_score=anchor_score)
    half_width = Z95 * SCALE * np.sqrt(np.clip(np.diag(transform @ fit.covariance @ transform.T), 0.0, None))
    sandwich_low, sandwich_high = scores - half_width, scores + half_width
    if len(fit.samples):
        boot = scale_logits(fit.samples, anchor=anchor, anchor_score=anchor_score)
        ci_low, ci_high = np.percentile(boot, 2.5, axis=0), np.percentile(boot, 97.5, axis=0)
    else:
        ci_low, ci_high = sandwich_low, sandwich_high
    low, high = (ci_low, ci_high) if ci_method == "bootstrap" else (sandwich_low, sandwich_high)
    return _Intervals(scores, low, high, sandwich_low, sandwich_high)


def _tally(comparisons: Comparisons, min_votes: int) -> _Tally:
    wins = comparisons.win_matrix()
    games = (wins + wins.T).sum(axis=1)
    return _Tally(wins=wins, games=games, shown=games >= min_votes)


def _coverage_notes(comparisons: Comparisons, tally: _Tally, min_votes: int) -> list[str]:
    """Why some scores need care: hidden models, a disconnected graph, models with only wins or only losses."""
    notes: list[str] = []
    if not tally.shown.all():
        notes.append(f"{int((~tally.shown).sum())} model(s) with fewer than {min_votes} votes hidden.")
    groups = connected_groups(comparisons)
    if groups > 1:
        notes.append(f"The comparison graph has {groups} disconnected groups: scores across groups are not comparable (a tiny prior keeps them finite).")
    won, lost = tally.won, tally.lost
    for i in range(comparisons.n_models):
        if tally.shown[i] and tally.games[i] > 0 and (lost[i] == 0 or won[i] == 0):
            kind = "only wins" if lost[i] == 0 else "only losses"
            notes.append(f"{comparisons.models[i]} has {kind}: its score is held finite by the prior and its interval is wide.")
    return notes


def _honest(intervals: _Intervals, tally: _Tally, anchor: int | None) -> _Intervals:
    low, high = honest_bounds(intervals.scores, intervals.low, intervals.high, tally.wins, anchor)
    sandwich_low, sandwich_high = honest_bounds(intervals.scores, intervals.sandwich_low, intervals.sandwich_high, tally.wins, anchor)
    return _Intervals(intervals.scores, low, high, sandwich_low, sandwich_high)


def _rows(models: list[str], index: list[int], intervals: _Intervals, tally: _Tally, elo: dict[str, float] | None,
          provisional_models: np.ndarray) -> list[RatingRow]:
    """The table's rows for the shown models, best score first, ranked by Rank (UB) on the reported intervals."""
    ranks = rank_upper_bound(intervals.low[index], intervals.high[index]) if index else np.array([], dtype=int)
    won = tally.won
    return [
        RatingRow(
            rank=int(rank), model=models[i], score=float(intervals.scores[i]),
            ci_low=float(intervals.low[i]), ci_high=float(intervals.high[i]),
            sandwich_low=float(intervals.sandwich_low[i]), sandwich_high=float(intervals.sandwich_high[i]),
            votes=int(round(tally.games[i])), wins=float(won[i]),
            elo=None if elo is None else elo.get(models[i]), provisional=bool(provisional_models[i]),
        )
        for rank, i in zip(ranks, index)
    ]


def _matrices(theta: np.ndarray, tally: _Tally, index: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed win fraction, battle counts and predicted win probability between the shown models, in *index* order."""
    order = np.array(index, dtype=int)
    raw_games = tally.wins + tally.wins.T
    with np.errstate(divide="ignore", invalid="ignore"):
        win_fraction = np.where(raw_games > 0, tally.wins / raw_games, np.nan)[np.ix_(order, order)]
    predicted = expit(theta[:, None] - theta[None, :])[np.ix_(order, order)]
    np.fill_diagonal(predicted, np.nan)
    return win_fraction, raw_games[np.ix_(order, order)], predicted


def _style_coefficients(style: StyleFit | None, n: int) -> dict[str, tuple[float, float]] | None:
    """Each style feature's coefficient and standard error, from the style fit's covariance."""
    if style is None:
        return None
    errors = np.sqrt(np.clip(np.diag(style.covariance[n:, n:]), 0.0, None))
    return {name: (float(c), float(e)) for name, c, e in zip(STYLE_FEATURES, style.coefficients, errors)}
