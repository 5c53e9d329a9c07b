"""How often an AI judge agrees with the human vote, with 95 % bootstrap intervals over battles.

Every statistic of the report is a function of how many battles fall into each
of 19 cells: the 3 × 3 table of (human verdict, judge verdict) over valid
battles, split by whether the judge was position-consistent (18 cells), plus
one cell for invalid battles. Resampling n battles with replacement and
tallying them is the same, in distribution, as drawing the 19 cell counts
from a multinomial with n trials and the observed cell shares, so the
bootstrap is exact and costs ``rounds × 19`` draws whatever the number of
battles: one million battles are one ``bincount``.

Reported per judge (see :class:`JudgeAgreement`): the invalid rate, agreement
without ties (battles where human and judge are both decisive, the
literature's usual figure), agreement with ties (3-class exact match over valid
battles; about 20 points lower for humans among themselves), Cohen's κ (3
classes, valid battles) and position consistency (share of valid battles
judged the same in both orders).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np

from arena.judges.verdicts import VERDICTS, JudgedVerdict, human_verdict

VERDICT_CODE: dict[str, int] = {verdict: code for code, verdict in enumerate(VERDICTS)}  # a: 0, b: 1, tie: 2
_TIE = VERDICT_CODE["tie"]
_CONSISTENT_OFFSET = 9   # cells 0-8: (human, judge) inconsistent; 9-17: the same, consistent
_INVALID_CELL = 18
CELLS = 19

GroupKey = Literal["category", "pair"]


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95 % percentile-bootstrap interval (NaN where undefined, e.g. no battles)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class JudgedBattle:
    """One battle as a judge saw it, beside the human vote (*human_winner* is a stored winner, e.g. ``"tie (bothbad)"``)."""

    battle_id: str
    model_a: str
    model_b: str
    human_winner: str
    judge: str
    verdict: JudgedVerdict
    category: str = "overall"
    style_a: tuple[int, ...] | None = None  # the answers' style counts (arena.ratings.STYLE_FEATURES), for the Goodhart table
    style_b: tuple[int, ...] | None = None


@dataclass(frozen=True)
class JudgeAgreement:
    """One judge's agreement with the humans, over all its battles (*group* None) or one category or model pair."""

    judge: str
    group: str | None
    n_battles: int
    n_invalid: int
    n_valid: int
    n_decisive: int               # valid battles where both the human and the judge picked a side
    invalid_rate: Estimate
    agreement_without_ties: Estimate
    agreement_with_ties: Estimate
    cohen_kappa: Estimate
    position_consistency: Estimate


def battle_cells(human_codes: np.ndarray, judge_codes: np.ndarray, consistent: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each battle's cell (0-18); codes follow :data:`VERDICT_CODE`, *judge_codes* are ignored where not *valid*."""
    human, judge = np.asarray(human_codes, dtype=np.int64), np.asarray(judge_codes, dtype=np.int64)
    consistent, valid = np.asarray(consistent, dtype=bool), np.asarray(valid, dtype=bool)
    if not human.shape == judge.shape == consistent.shape == valid.shape:
        raise ValueError("the battle columns must have the same length")
    if len(human) and (human.min() < 0 or human.max() > _TIE):
        raise ValueError("human codes must be 0 (a), 1 (b) or 2 (tie)")
    judged = judge[valid]
    if len(judged) and (judged.min() < 0 or judged.max() > _TIE):
        raise ValueError("judge codes of valid battles must be 0 (a), 1 (b) or 2 (tie)")
    return np.where(valid, human * 3 + judge + _CONSISTENT_OFFSET * consistent, _INVALID_CELL)


def cell_metrics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The report's five rates from cell counts (..., 19), for one tally or a whole stack of bootstrap rounds."""
    counts = np.asarray(counts, dtype=float)
    consistent = counts[..., _CONSISTENT_OFFSET:_INVALID_CELL]
    confusion = (counts[..., :_CONSISTENT_OFFSET] + consistent).reshape(*counts.shape[:-1], 3, 3)  # [human, judge]
    valid = confusion.sum(axis=(-2, -1))
    decisive = confusion[..., :_TIE, :_TIE]
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.trace(confusion, axis1=-2, axis2=-1) / valid
        expected = (confusion.sum(axis=-1) * confusion.sum(axis=-2)).sum(axis=-1) / valid**2
        return {
            "invalid_rate": counts[..., _INVALID_CELL] / counts.sum(axis=-1),
            "agreement_without_ties": np.trace(decisive, axis1=-2, axis2=-1) / decisive.sum(axis=(-2, -1)),
            "agreement_with_ties": observed,
            "cohen_kappa": (observed - expected) / (1.0 - expected),
            "position_consistency": consistent.sum(axis=-1) / valid,
        }


def report_from_counts(judge: str, counts: np.ndarray, *, group: str | None = None, rounds: int = 1000, seed: int = 0) -> JudgeAgreement:
    """The report of one tally of 19 cell counts, its intervals from *rounds* multinomial resamples of the battles.

    Each report's generator is seeded from *seed* and the judge's and group's
    names, so adding a judge or a category leaves every other interval as it was.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    point = cell_metrics(counts)
    if total > 0 and rounds > 0:
        rng = np.random.default_rng([seed, zlib.crc32(judge.encode()), zlib.crc32((group or "").encode())])
        resampled = cell_metrics(rng.multinomial(total, counts / total, size=rounds))
    else:
        resampled = {name: np.full(0, np.nan) for name in point}
    estimates = {name: _estimate(float(point[name]), resampled[name]) for name in point}
    confusion = (counts[:_CONSISTENT_OFFSET] + counts[_CONSISTENT_OFFSET:_INVALID_CELL]).reshape(3, 3)
    return JudgeAgreement(
        judge=judge, group=group, n_battles=total, n_invalid=int(counts[_INVALID_CELL]), n_valid=int(confusion.sum()),
        n_decisive=int(confusion[:_TIE, :_TIE].sum()), **estimates,
    )


def _estimate(value: float, rounds: np.ndarray) -> Estimate:
    """Percentile interval; rounds where the rate is undefined (e.g. no decisive battle drawn) are left out."""
    defined = rounds[~np.isnan(rounds)]
    if np.isnan(value) or len(defined) == 0:
        return Estimate(value, float("nan"), float("nan"))
    low, high = np.percentile(defined, [2.5, 97.5])
    return Estimate(value, float(low), float(high))


def agreement_arrays(judge: str, human_codes: np.ndarray, judge_codes: np.ndarray, consistent: np.ndarray, valid: np.ndarray,
                     *, rounds: int = 1000, seed: int = 0, group: str | None = None) -> JudgeAgreement:
    """The report of one judge from columns, one entry per battle (the fast path: no per-battle Python objects)."""
    cells = battle_cells(human_codes, judge_codes, consistent, valid)
    return report_from_counts(judge, np.bincount(cells, minlength=CELLS), group=group, rounds=rounds, seed=seed)


def agreement_by_arrays(judge: str, group_codes: np.ndarray, group_labels: list[str], human_codes: np.ndarray, judge_codes: np.ndarray,
                        consistent: np.ndarray, valid: np.ndarray, *, rounds: int = 1000, seed: int = 0) -> list[JudgeAgreement]:
    """One report per group that has battles; battle i belongs to ``group_labels[group_codes[i]]``."""
    cells = battle_cells(human_codes, judge_codes, consistent, valid)
    groups = np.asarray(group_codes, dtype=np.int64)
    if groups.shape != cells.shape or (len(groups) and (groups.min() < 0 or groups.max() >= len(group_labels))):
        raise ValueError("every battle needs a group code into group_labels")
    counts = np.bincount(groups * CELLS + cells, minlength=len(group_labels) * CELLS).reshape(len(group_labels), CELLS)
    return [
        report_from_counts(judge, counts[g], group=label, rounds=rounds, seed=seed)
        for g, label in sorted(enumerate(group_labels), key=lambda item: item[1])
        if counts[g].sum() > 0
    ]


@dataclass
class _JudgeColumns:
    """One judge's battles as growing columns, filled in one pass over the records."""

    human: list[int]
    verdict: list[int]    # -1 where invalid
    consistent: list[bool]
    group: list[int]


def _columns(records: Iterable[JudgedBattle], key: GroupKey | None) -> tuple[dict[str, _JudgeColumns], list[str]]:
    """Per judge, its battles' codes (and group codes into the returned labels); a battle judged twice by one judge is refused."""
    by_judge: dict[str, _JudgeColumns] = {}
    labels: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    for record in records:
        if (record.judge, record.battle_id) in seen:
            raise ValueError(f"battle {record.battle_id!r} is judged twice by {record.judge!r}")
        seen.add((record.judge, record.battle_id))
        columns = by_judge.setdefault(record.judge, _JudgeColumns([], [], [], []))
        verdict = record.verdict
        columns.human.append(VERDICT_CODE[human_verdict(record.human_winner)])
        columns.verdict.append(-1 if verdict.verdict is None else VERDICT_CODE[verdict.verdict])
        columns.consistent.append(bool(verdict.consistent))
        if key is not None:
            columns.group.append(labels.setdefault(_group_label(record, key), len(labels)))
    return by_judge, list(labels)


def _group_label(record: JudgedBattle, key: GroupKey) -> str:
    if key == "category":
        return record.category
    if key == "pair":
        return " vs ".join(sorted((record.model_a, record.model_b)))
    raise ValueError(f"unknown breakdown {key!r}")


def agreement(records: Iterable[JudgedBattle], *, rounds: int = 1000, seed: int = 0) -> list[JudgeAgreement]:
    """One report per judge over all its battles, judges in name order."""
    by_judge, _ = _columns(records, None)
    reports = []
    for judge in sorted(by_judge):
        columns = by_judge[judge]
        verdicts = np.array(columns.verdict, dtype=np.int64)
        reports.append(agreement_arrays(judge, np.array(columns.human, dtype=np.int64), verdicts, np.array(columns.consistent, dtype=bool),
                                        verdicts >= 0, rounds=rounds, seed=seed))
    return reports


def agreement_by(records: Iterable[JudgedBattle], key: GroupKey, *, rounds: int = 1000, seed: int = 0) -> list[JudgeAgreement]:
    """Reports per judge and category (``key="category"``) or unordered model pair (``"pair"``, labelled ``"a vs b"`` sorted)."""
    if key not in ("category", "pair"):
        raise ValueError(f"unknown breakdown {key!r}; expected 'category' or 'pair'")
    by_judge, labels = _columns(records, key)
    reports = []
    for judge in sorted(by_judge):
        columns = by_judge[judge]
        verdicts = np.array(columns.verdict, dtype=np.int64)
        reports += agreement_by_arrays(judge, np.array(columns.group, dtype=np.int64), labels, np.array(columns.human, dtype=np.int64),
                                       verdicts, np.array(columns.consistent, dtype=bool), verdicts >= 0, rounds=rounds, seed=seed)
    return reports


__all__ = [
    "CELLS", "VERDICT_CODE", "Estimate", "GroupKey", "JudgeAgreement", "JudgedBattle",
    "agreement", "agreement_arrays", "agreement_by", "agreement_by_arrays", "battle_cells", "cell_metrics", "report_from_counts",
]
