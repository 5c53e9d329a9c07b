"""Judged battles as columns: the agreement report at a million battles without one Python object per battle.

The store reads the finished judgements column-wise (:mod:`arena.columnar`);
the report's statistics take the columns as they come: per judge, the
agreement table's cell counts (:func:`arena.judges.agreement.agreement_arrays`),
the two boards from aggregated outcome cells, and the style fit from the
per-battle style counts. :meth:`JudgedColumns.from_records` builds the same
columns from :class:`~arena.judges.agreement.JudgedBattle` records, so both
entry points share one computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from arena.coded import Coded, encode
from arena.judges.agreement import VERDICT_CODE, JudgeAgreement, JudgedBattle, agreement_arrays, agreement_by_arrays
from arena.judges.verdicts import human_verdict

HUMAN_WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")  # the stored winners, in outcome-code order


@dataclass(frozen=True)
class JudgedColumns:
    """One entry per (battle, judge): who judged, the two models, the human winner, the judge's verdict and style counts."""

    judge: Coded
    model_a: Coded
    model_b: Coded
    human_winner: Coded            # stored winners (``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``)
    verdict: np.ndarray            # VERDICT_CODE of the judge's verdict, -1 where invalid
    consistent: np.ndarray         # bool; meaningful where the verdict is valid
    style_a: np.ndarray | None = None  # (battles, 4) style counts of each answer, or None when not read
    style_b: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.verdict)

    @classmethod
    def from_records(cls, records: Iterable[JudgedBattle]) -> JudgedColumns:
        records = list(records)
        styled = bool(records) and all(r.style_a is not None and r.style_b is not None for r in records)
        return cls(
            judge=encode([r.judge for r in records]), model_a=encode([r.model_a for r in records]),
            model_b=encode([r.model_b for r in records]), human_winner=encode([r.human_winner for r in records]),
            verdict=np.array([-1 if r.verdict.verdict is None else VERDICT_CODE[r.verdict.verdict] for r in records], dtype=np.int64),
            consistent=np.array([bool(r.verdict.consistent) for r in records], dtype=bool),
            style_a=np.array([r.style_a for r in records], dtype=np.int64) if styled else None,
            style_b=np.array([r.style_b for r in records], dtype=np.int64) if styled else None,
        )

    def judges(self) -> list[str]:
        """The judges present, in name order."""
        return sorted({self.judge.labels[c] for c in np.unique(self.judge.codes)})

    def of_judge(self, name: str) -> JudgedColumns:
        """The entries of one judge."""
        if name not in self.judge.labels:
            return self.take(np.zeros(0, dtype=np.int64))
        return self.take(self.judge.codes == self.judge.labels.index(name))

    def take(self, rows: np.ndarray) -> JudgedColumns:
        """The entries at *rows* (indices or a boolean mask; a mask that keeps everything returns these columns themselves)."""
        if rows.dtype == bool and len(rows) == len(self) and rows.all():
            return self  # frozen arrays are shared, not copied: at a million battles a copy costs a tenth of a second
        def part(column: Coded) -> Coded:
            return Coded(column.codes[rows], column.labels)
        return JudgedColumns(
            judge=part(self.judge), model_a=part(self.model_a), model_b=part(self.model_b), human_winner=part(self.human_winner),
            verdict=self.verdict[rows], consistent=self.consistent[rows],
            style_a=None if self.style_a is None else self.style_a[rows], style_b=None if self.style_b is None else self.style_b[rows],
        )

    def human_codes(self) -> np.ndarray:
        """The human winner as a verdict code (both kinds of tie are a tie); refuses an unknown winner by name."""
        lookup = np.array([VERDICT_CODE[human_verdict(label)] for label in self.human_winner.labels], dtype=np.int64)
        return lookup[self.human_winner.codes] if len(self) else np.zeros(0, dtype=np.int64)

    def human_outcomes(self) -> np.ndarray:
        """The human winner as an index into HUMAN_WINNERS (the ratings' own vocabulary, ``tie (bothbad)`` kept apart)."""
        for label in self.human_winner.labels:
            human_verdict(label)  # the same refusal as human_codes
        lookup = np.array([HUMAN_WINNERS.index(label) for label in self.human_winner.labels], dtype=np.int64)
        return lookup[self.human_winner.codes] if len(self) else np.zeros(0, dtype=np.int64)

    def model_codes(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(models in name order, model_a codes, model_b codes) in that shared numbering."""
        models = sorted(set(self.model_a.labels) | set(self.model_b.labels))
        index = {m: i for i, m in enumerate(models)}
        return models, self.model_a.recode(index), self.model_b.recode(index)

    def pair_groups(self) -> tuple[np.ndarray, list[str]]:
        """Each entry's unordered model pair as a code into labels ``"a vs b"`` (names sorted)."""
        models, a, b = self.model_codes()
        n = len(models)
        keys, codes = np.unique(np.minimum(a, b) * n + np.maximum(a, b), return_inverse=True)
        return codes.astype(np.int64), [f"{models[k // n]} vs {models[k % n]}" for k in keys]


def agreement_of_columns(columns: JudgedColumns, *, rounds: int = 1000, seed: int = 0, group: str | None = None) -> list[JudgeAgreement]:
    """One agreement report per judge over all its entries (labelled *group*), judges in name order."""
    reports = []
    for judge in columns.judges():
        own = columns.of_judge(judge)
        reports.append(agreement_arrays(judge, own.human_codes(), own.verdict, own.consistent, own.verdict >= 0,
                                        rounds=rounds, seed=seed, group=group))
    return reports


def agreement_by_pair_columns(columns: JudgedColumns, *, rounds: int = 1000, seed: int = 0) -> list[JudgeAgreement]:
    """Reports per judge and unordered model pair (``"a vs b"``, names sorted)."""
    reports = []
    for judge in columns.judges():
        own = columns.of_judge(judge)
        groups, labels = own.pair_groups()
        reports += agreement_by_arrays(judge, groups, labels, own.human_codes(), own.verdict, own.consistent, own.verdict >= 0,
                                       rounds=rounds, seed=seed)
    return reports


__all__ = ["HUMAN_WINNERS", "JudgedColumns", "agreement_by_pair_columns", "agreement_of_columns"]
