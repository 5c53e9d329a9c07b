"""What explains a judge's Goodhart gap: the style-control fit of its verdicts beside the humans' on the same battles.

A judge that rewards length or markdown more than people do lifts the models
whose answers are long or heavily formatted. Fitting Bradley–Terry with style
covariates (:func:`arena.ratings.fit_style_control`, the leaderboard's own
style control) once on the human outcomes and once on the judge's, over the
same validly judged battles with the same standardised design, separates the
two: a feature's coefficient says how much it moves the odds of winning per
standard deviation, for people and for the judge. Per model, the gap that
remains after style control (judge minus human, arena points) says how much
of a Goodhart gap the style features do not explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from arena.domain import OUTCOME_SCORE
from arena.judges.columns import HUMAN_WINNERS, JudgedColumns

if TYPE_CHECKING:
    from arena.judges.agreement import JudgedBattle

_JUDGE_SCORE_BY_CODE = np.array([1.0, 0.0, 0.5])  # VERDICT_CODE order: a, b, tie
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class StyleCoefficient:
    """One style feature's effect (log-odds per standard deviation) on the human vote and on the judge's, with standard errors."""

    feature: str
    human: float
    human_se: float
    judge: float
    judge_se: float

    @property
    def difference(self) -> float:
        """How much more the judge rewards the feature than people do."""
        return self.judge - self.human

    @property
    def significant(self) -> bool:
        """The two coefficients differ beyond their combined 95 % interval (independent fits' errors added in quadrature)."""
        return abs(self.difference) > _Z95 * float(np.hypot(self.human_se, self.judge_se))


@dataclass(frozen=True)
class StyleGap:
    """A judge's style coefficients beside the humans', and each model's judge-minus-human gap after style control."""

    judge: str
    n_battles: int
    coefficients: list[StyleCoefficient]
    gap_after_style: dict[str, float]   # model -> judge minus human score, style-controlled, arena points
    margin_after_style: dict[str, float]  # model -> 95 % half width of that gap


def style_gap(judge: str, records: Sequence[JudgedBattle]) -> StyleGap | None:
    """The style comparison over *records*' validly judged battles that carry style counts; None with fewer than two models."""
    return style_gap_columns(judge, JudgedColumns.from_records([r for r in records if r.style_a is not None and r.style_b is not None]))


def style_gap_columns(judge: str, columns: JudgedColumns) -> StyleGap | None:
    """:func:`style_gap` over columns (one judge's entries); None without style counts or with fewer than two models."""
    from arena.ratings import SCALE, STYLE_FEATURES, fit_style_control, style_design  # scipy behind it: only the report needs it

    if columns.style_a is None or columns.style_b is None:
        return None
    kept = columns.take(columns.verdict >= 0)
    assert kept.style_a is not None and kept.style_b is not None
    models, a, b = kept.model_codes()
    if len(models) < 2:
        return None
    n = len(models)
    design = style_design(kept.style_a, kept.style_b)
    human_score = np.array([OUTCOME_SCORE[w] for w in HUMAN_WINNERS])[kept.human_outcomes()]
    judge_score = _JUDGE_SCORE_BY_CODE[kept.verdict]
    human = fit_style_control(a, b, human_score, design, n)
    judged = fit_style_control(a, b, judge_score, design, n)
    human_se, judge_se = _errors(human.covariance), _errors(judged.covariance)
    coefficients = [
        StyleCoefficient(name, float(human.coefficients[k]), float(human_se[n + k]), float(judged.coefficients[k]), float(judge_se[n + k]))
        for k, name in enumerate(STYLE_FEATURES)
    ]
    gap = SCALE * (judged.theta - human.theta)
    margin = _Z95 * SCALE * np.hypot(_centred_errors(judged.covariance, n), _centred_errors(human.covariance, n))
    return StyleGap(judge=judge, n_battles=len(kept), coefficients=coefficients,
                    gap_after_style={m: float(gap[i]) for i, m in enumerate(models)},
                    margin_after_style={m: float(margin[i]) for i, m in enumerate(models)})


def _errors(covariance: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(np.diag(covariance), 0.0, None))


def _centred_errors(covariance: np.ndarray, n: int) -> np.ndarray:
    """Standard errors of the mean-centred logits (the fit reports theta minus its mean)."""
    centring = np.eye(n) - np.full((n, n), 1.0 / n)
    return np.sqrt(np.clip(np.diag(centring @ covariance[:n, :n] @ centring.T), 0.0, None))


__all__ = ["StyleCoefficient", "StyleGap", "style_gap", "style_gap_columns"]
