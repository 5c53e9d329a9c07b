"""One category's leaderboard from aggregated comparisons: fit, intervals, ranks, notes and matrices."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from arena.ratings.bootstrap import bootstrap_logits
from arena.ratings.bradley_terry import DEFAULT_PRIOR, fit_bradley_terry
from arena.ratings.calibration import TieReport
from arena.ratings.comparisons import Comparisons, connected_groups
from arena.ratings.honest import honest_bounds, provisional
from arena.ratings.rao_kupper import TIE_MODELS, rao_kupper_probabilities
from arena.ratings.sandwich import sandwich_covariance
from arena.ratings.scaling import CENTER, SCALE, contrast, rank_upper_bound, scale_logits
from arena.ratings.simultaneous import simultaneous_half_widths, simultaneous_multiplier
from arena.ratings.style import STYLE_FEATURES, StyleFit
from arena.ratings.ties import fit_ties

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
    simultaneous_low: float | None = None   # with simultaneous intervals (the ones Rank (UB) then uses)
    simultaneous_high: float | None = None


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
    tie_model: str = "bt"
    ties: TieReport | None = None     # Rao–Kupper's θ and the calibration of both models
    simultaneous: bool = False        # Rank (UB) from the simultaneous intervals


@dataclass(frozen=True)
class _Fit:
    """Logits (models), their covariance (models × models) and bootstrap logits (rounds × models; none for sandwich-only)."""

    theta: np.ndarray
    covariance: np.ndarray
    samples: np.ndarray
    log_tie: float | None = None  # Rao–Kupper's η = log θ; None for Bradley–Terry
    ties: TieReport | None = None


@dataclass(frozen=True)
class _Intervals:
    """Per model, on the arena scale: the score, the reported 95 % interval and the sandwich one."""

    scores: np.ndarray
    low: np.ndarray
    high: np.ndarray
    sandwich_low: np.ndarray
    sandwich_high: np.ndarray
    simultaneous_low: np.ndarray | None = None
    simultaneous_high: np.ndarray | None = None

    @property
    def ranked_by(self) -> tuple[np.ndarray, np.ndarray]:
        """The bounds Rank (UB) compares: the simultaneous ones when computed, else the reported ones."""
        if self.simultaneous_low is not None and self.simultaneous_high is not None:
            return self.simultaneous_low, self.simultaneous_high
        return self.low, self.high


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
    tie_model: str = "bt",
    simultaneous: bool = False,
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
    *tie_model* ``"rao-kupper"`` fits ties as ties (:mod:`.rao_kupper`) and
    reports θ and both models' calibration; *simultaneous* ranks by the
    chi-square simultaneous intervals (:mod:`.simultaneous`).
    """
    _check_options(tie_model, style)
    n = comparisons.n_models
    if n == 0:
        return Ratings([], [], np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)), 0, ["No votes yet."], ci_method=ci_method)
    counts = comparisons.reweighted() if reweight else comparisons.count
    anchor = comparisons.models.index(anchor_model) if anchor_model in comparisons.models else None
    notes = _input_notes(reweight, anchor_model, anchor, anchor_score)
    fit = _fit(comparisons, counts, rounds=rounds, seed=seed, prior=prior, reweight=reweight, style=style, fitted=fitted,
               tie_model=tie_model, ci_method=ci_method)
    if style is not None:
        ci_method = "sandwich"
        notes.append(f"Style control: ratings adjusted for {', '.join(STYLE_FEATURES)}; intervals from the sandwich estimate.")
    tally = _tally(comparisons, min_votes)
    intervals = _honest(_intervals(fit, n, anchor=anchor, anchor_score=anchor_score, ci_method=ci_method, simultaneous=simultaneous),
                        tally, anchor)
    notes += _option_notes(fit, n, simultaneous)
    notes += _coverage_notes(comparisons, tally, min_votes)
    index = [i for i in np.argsort(-intervals.scores) if tally.shown[i]]
    win_fraction, battle_counts, predicted = _matrices(fit.theta, tally, index, fit.log_tie)
    return Ratings(
        rows=_rows(comparisons.models, index, intervals, tally, elo, provisional(tally.games, provisional_votes)), models=[comparisons.models[i] for i in index],
        win_fraction=win_fraction, battle_counts=battle_counts, predicted=predicted, total_votes=int(comparisons.count.sum()),
        notes=notes, style_coefficients=_style_coefficients(style, n), ci_method=ci_method,
        tie_model=tie_model, ties=fit.ties, simultaneous=simultaneous,
    )


def _input_notes(reweight: bool, anchor_model: str | None, anchor: int | None, anchor_score: float) -> list[str]:
    """What was done to the votes before the fit, and an anchor that could not be used."""
    notes = ["Votes reweighted by inverse pair frequency."] if reweight else []
    if anchor_model and anchor is None:
        notes.append(f"Anchor model {anchor_model!r} has no votes here; scores are centred at {anchor_score:g} instead.")
    return notes


def _option_notes(fit: _Fit, n: int, simultaneous: bool) -> list[str]:
    """What the tie model and the simultaneous intervals change, said under the table."""
    notes = []
    if fit.ties is not None:
        notes.append(f"Rao–Kupper: ties modelled as ties (θ = {fit.ties.theta:.3f}); its scores are on their own scale, "
                     "wider than Bradley–Terry's.")
    if simultaneous:
        notes.append(f"Rank (UB) from simultaneous 95% intervals (chi-square, {n - 1} degrees of freedom: "
                     f"{simultaneous_multiplier(n):.2f} standard errors), which hold for all models at once.")
    return notes


def _check_options(tie_model: str, style: StyleFit | None) -> None:
    if tie_model not in TIE_MODELS:
        raise ValueError(f"tie_model: unknown value {tie_model!r}; allowed: {', '.join(TIE_MODELS)}")
    if style is not None and tie_model != "bt":
        raise ValueError("tie_model: style control fits Bradley–Terry only; use tie_model 'bt' with style control")


def _fit(comparisons: Comparisons, counts: np.ndarray, *, rounds: int, seed: int, prior: float, reweight: bool,
         style: StyleFit | None, fitted: tuple[np.ndarray, np.ndarray] | None, tie_model: str = "bt",
         ci_method: str = "bootstrap") -> _Fit:
    """Rao–Kupper's fit if asked, the style fit's logits and covariance if given, else the passed-in or a fresh BT fit."""
    n = comparisons.n_models
    if tie_model == "rao-kupper":
        ties = fit_ties(comparisons, counts, rounds=rounds, seed=seed, prior=prior, reweight=reweight, ci_method=ci_method)
        return _Fit(ties.theta, ties.covariance, ties.samples, ties.log_tie, ties.report)
    if style is not None:
        return _Fit(style.theta, style.covariance[:n, :n], np.zeros((0, n)))
    if fitted is not None:
        theta, samples = fitted
        return _Fit(theta, sandwich_covariance(comparisons, theta, prior=prior, counts=counts), samples)
    theta = fit_bradley_terry(comparisons.win_matrix(counts), prior=prior)
    covariance = sandwich_covariance(comparisons, theta, prior=prior, counts=counts)
    samples = bootstrap_logits(comparisons, rounds=rounds, seed=seed, prior=prior, reweight=reweight, theta0=theta)
    return _Fit(theta, covariance, samples)


def _intervals(fit: _Fit, n: int, *, anchor: int | None, anchor_score: float, ci_method: str, simultaneous: bool = False) -> _Intervals:
    """Scores and 95 % intervals: bootstrap percentiles (when there are samples) and the sandwich's normal interval.

    The simultaneous ones project the chi-square ellipsoid of the covariance
    *ci_method* names: the bootstrap rounds' sample covariance, or the sandwich.
    """
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
    if not simultaneous:
        return _Intervals(scores, low, high, sandwich_low, sandwich_high)
    bootstrapped = ci_method == "bootstrap" and len(fit.samples) > 1
    covariance = np.cov(fit.samples, rowvar=False).reshape(n, n) if bootstrapped else fit.covariance
    joint = SCALE * simultaneous_half_widths(covariance, transform)
    return _Intervals(scores, low, high, sandwich_low, sandwich_high, scores - joint, scores + joint)


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
    if intervals.simultaneous_low is None or intervals.simultaneous_high is None:
        return _Intervals(intervals.scores, low, high, sandwich_low, sandwich_high)
    joint_low, joint_high = honest_bounds(intervals.scores, intervals.simultaneous_low, intervals.simultaneous_high, tally.wins, anchor)
    return _Intervals(intervals.scores, low, high, sandwich_low, sandwich_high, joint_low, joint_high)


def _rows(models: list[str], index: list[int], intervals: _Intervals, tally: _Tally, elo: dict[str, float] | None,
          provisional_models: np.ndarray) -> list[RatingRow]:
    """The table's rows for the shown models, best score first, ranked by Rank (UB) on the reported intervals."""
    ranked_low, ranked_high = intervals.ranked_by
    ranks = rank_upper_bound(ranked_low[index], ranked_high[index]) if index else np.array([], dtype=int)
    won = tally.won
    joint_low, joint_high = intervals.simultaneous_low, intervals.simultaneous_high
    return [
        RatingRow(
            rank=int(rank), model=models[i], score=float(intervals.scores[i]),
            ci_low=float(intervals.low[i]), ci_high=float(intervals.high[i]),
            sandwich_low=float(intervals.sandwich_low[i]), sandwich_high=float(intervals.sandwich_high[i]),
            votes=int(round(tally.games[i])), wins=float(won[i]),
            elo=None if elo is None else elo.get(models[i]), provisional=bool(provisional_models[i]),
            simultaneous_low=None if joint_low is None else float(joint_low[i]),
            simultaneous_high=None if joint_high is None else float(joint_high[i]),
        )
        for rank, i in zip(ranks, index)
    ]


def _matrices(theta: np.ndarray, tally: _Tally, index: list[int], log_tie: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed win fraction, battle counts and predicted win probability between the shown models, in *index* order.

    Under Rao–Kupper (*log_tie* given) "predicted" is P(win) + ½ P(tie), like the win fraction's ties as half.
    """
    order = np.array(index, dtype=int)
    raw_games = tally.wins + tally.wins.T
    with np.errstate(divide="ignore", invalid="ignore"):
        win_fraction = np.where(raw_games > 0, tally.wins / raw_games, np.nan)[np.ix_(order, order)]
    diff = theta[:, None] - theta[None, :]
    if log_tie is None:
        predicted = expit(diff)[np.ix_(order, order)]
    else:
        win, tie, _ = rao_kupper_probabilities(diff, log_tie)
        predicted = (win + 0.5 * tie)[np.ix_(order, order)]
    np.fill_diagonal(predicted, np.nan)
    return win_fraction, raw_games[np.ix_(order, order)], predicted


def _style_coefficients(style: StyleFit | None, n: int) -> dict[str, tuple[float, float]] | None:
    """Each style feature's coefficient and standard error, from the style fit's covariance."""
    if style is None:
        return None
    errors = np.sqrt(np.clip(np.diag(style.covariance[n:, n:]), 0.0, None))
    return {name: (float(c), float(e)) for name, c, e in zip(STYLE_FEATURES, style.coefficients, errors)}
