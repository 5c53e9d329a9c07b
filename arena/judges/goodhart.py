"""The leaderboard a judge would produce, beside the human one on the same battles.

A judge can agree with the humans on most battles and still reorder the board
if its disagreements all lean one way (say, towards the model with the longer
answers): optimising against such a judge rewards what the judge likes, not what
people prefer. For each judge both boards are fitted by the project's ratings
(:func:`arena.ratings.compute_ratings`, ties half a win as on the human board)
from the battles the judge gave a valid verdict on, so the two boards see
exactly the same battles. Reported:

* the Spearman rank correlation between the judge's and the humans' scores;
* the model pairs the judge orders against the humans beyond both intervals
  (humans put i above j with non-overlapping intervals, the judge j above i
  likewise);
* the Goodhart rows: models the judge scores higher than the humans by more than
  the facing sides of the two intervals combined, ``sqrt(down_judge² + up_human²)``
  (the judge's score minus its lower bound, the humans' upper bound minus
  their score).

Both boards are centred on the same models (average 1000), so a gap is a
preference relative to the other models. Where the battles carry the answers'
style counts, each comparison also holds :mod:`.style_gap`'s fit: the style
coefficients of the judge's verdicts beside the humans', and the gap that is
left per model once style is controlled for (what length and markdown do not
explain).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable

import numpy as np

from arena.judges.agreement import JudgedBattle
from arena.judges.columns import HUMAN_WINNERS, JudgedColumns
from arena.judges.style_gap import StyleGap, style_gap_columns

if TYPE_CHECKING:
    from arena.ratings import Comparisons, RatingRow, Ratings

# The judge's verdict codes (VERDICT_CODE: a, b, tie) as stored winners, so its board is built exactly like the human one.
_JUDGE_WINNERS = ("model_a", "model_b", "tie")


@dataclass(frozen=True)
class GoodhartRow:
    """A model the judge rates higher than the humans do, beyond both intervals."""

    model: str
    human_score: float
    judge_score: float
    gap: float      # judge score minus human score
    margin: float   # sqrt((judge score - judge low)² + (human high - human score)²): the gap it exceeds


@dataclass(frozen=True)
class BoardComparison:
    """One judge's board against the humans' board on the same (validly judged) battles."""

    judge: str
    n_battles: int
    spearman: float              # NaN with fewer than two models or constant scores
    contradicted_pairs: int
    goodhart: list[GoodhartRow]  # largest gap first
    human_board: Ratings
    judge_board: Ratings
    style: StyleGap | None = None  # the style features' effect on the judge vs the humans, where the battles carry style counts


def compare_leaderboards(records: Iterable[JudgedBattle], *, rounds: int = 100, seed: int = 0) -> list[BoardComparison]:
    """One comparison per judge, in name order; intervals from *rounds* bootstrap rounds of the ratings (seeded)."""
    return compare_judged(JudgedColumns.from_records(records), rounds=rounds, seed=seed)


def compare_judged(columns: JudgedColumns, *, rounds: int = 100, seed: int = 0) -> list[BoardComparison]:
    """:func:`compare_leaderboards` over columns: each judge's valid battles aggregated into outcome cells, then two fits."""
    # Imported here, with scipy behind them: only the report fits boards, and arena.judges is imported by the worker.
    from arena.ratings import compute_ratings

    comparisons = []
    for judge in columns.judges():
        own = columns.of_judge(judge)
        valid = own.take(own.verdict >= 0)
        if not len(valid):
            continue
        human_outcomes = valid.human_outcomes()  # refuses an unknown winner by name, before the ratings meet it
        models, a, b = valid.model_codes()
        human = compute_ratings(_aggregated(models, a, b, human_outcomes, HUMAN_WINNERS), rounds=rounds, seed=seed)
        judged = compute_ratings(_aggregated(models, a, b, valid.verdict, _JUDGE_WINNERS), rounds=rounds, seed=seed)
        comparisons.append(replace(compare_boards(judge, human, judged), style=style_gap_columns(judge, valid)))
    return comparisons


def compare_boards(judge: str, human: Ratings, judged: Ratings) -> BoardComparison:
    """Compare two boards over the models both list (the same ones when both come from the same battles)."""
    human_rows = {row.model: row for row in human.rows}
    judge_rows = {row.model: row for row in judged.rows}
    models = sorted(human_rows.keys() & judge_rows.keys())
    h, j = _columns([human_rows[m] for m in models]), _columns([judge_rows[m] for m in models])
    return BoardComparison(
        judge=judge, n_battles=human.total_votes, spearman=_spearman(h[0], j[0]),
        contradicted_pairs=contradicted_pairs(h[1], h[2], j[1], j[2]),
        goodhart=goodhart_rows(models, h, j), human_board=human, judge_board=judged,
    )


def contradicted_pairs(human_low: np.ndarray, human_high: np.ndarray, judge_low: np.ndarray, judge_high: np.ndarray) -> int:
    """Pairs (i, j) with the humans' interval of i wholly above j's and the judge's interval of j wholly above i's."""
    human_above = human_low[:, None] > human_high[None, :]
    judge_above = judge_low[:, None] > judge_high[None, :]
    return int((human_above & judge_above.T).sum())


def goodhart_rows(models: list[str], human: tuple[np.ndarray, np.ndarray, np.ndarray],
                  judge: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[GoodhartRow]:
    """Models whose judge score exceeds the human one by more than the facing interval sides combined; boards are (score, low, high)."""
    gap = judge[0] - human[0]
    # The sides that face each other: how far the judge's score may fall, how far the human one may rise. (A judge that
    # makes a model win every battle leaves its upper side unbounded; that side says nothing about the gap.)
    with np.errstate(invalid="ignore"):
        margin = np.hypot(judge[0] - judge[1], human[2] - human[0])
    rows = [
        GoodhartRow(model=models[i], human_score=float(human[0][i]), judge_score=float(judge[0][i]), gap=float(gap[i]), margin=float(margin[i]))
        for i in np.flatnonzero(gap > margin)
    ]
    return sorted(rows, key=lambda row: -row.gap)


def _columns(rows: list[RatingRow]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, interval lows and highs of *rows*, as arrays."""
    return (np.array([r.score for r in rows], dtype=float), np.array([r.ci_low for r in rows], dtype=float),
            np.array([r.ci_high for r in rows], dtype=float))


def _spearman(human_scores: np.ndarray, judge_scores: np.ndarray) -> float:
    """Spearman's rank correlation (ties get their average rank); NaN with fewer than two models or constant scores.

    Written out rather than taken from scipy.stats, whose import alone costs more than the rest of the report.
    """
    if len(human_scores) < 2:
        return float("nan")
    human, judge = _average_ranks(human_scores), _average_ranks(judge_scores)
    if np.ptp(human) == 0 or np.ptp(judge) == 0:
        return float("nan")
    return float(np.corrcoef(human, judge)[0, 1])


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, equal values sharing the average of their positions."""
    distinct, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


def _aggregated(models: list[str], a: np.ndarray, b: np.ndarray, outcome: np.ndarray, winners: tuple[str, ...]) -> Comparisons:
    """Per-battle (a, b, outcome code) as one row per distinct cell with its count, as the ratings take them."""
    from arena.ratings import Comparisons  # see compare_judged

    n, k = len(models), len(winners)
    counts = np.bincount((a * n + b) * k + outcome, minlength=n * n * k)
    cells = np.flatnonzero(counts)
    names = np.asarray(models, dtype=object)
    return Comparisons.from_columns(names[cells // (n * k)], names[(cells // k) % n], np.asarray(winners, dtype=object)[cells % k],
                                    counts[cells].astype(float))


__all__ = ["BoardComparison", "GoodhartRow", "compare_boards", "compare_judged", "compare_leaderboards", "contradicted_pairs",
           "goodhart_rows"]
