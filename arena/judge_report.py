"""The agreement report: each AI judge beside the human votes, as the CLI, the Admin tab and the Leaderboard tab show it.

Reads the finished judgements with their votes from the store, hands them to
the pure statistics of :mod:`arena.judges` (agreement with intervals, the
judge's board against the humans', the style-control comparison), and turns the
result into plain dicts (JSON, CSV) or Markdown. :class:`AgreementService`
keeps the last report per request until a judgement is saved, so a public tab
cannot make the server refit boards on every click.
"""

from __future__ import annotations

import math
import threading

from arena.judges.agreement import Estimate, GroupKey, JudgeAgreement
from arena.judges.columns import agreement_by_pair_columns, agreement_of_columns
from arena.judges.goodhart import BoardComparison, compare_judged
from arena.judges.style_gap import StyleGap
from arena.store import Store

REFERENCE = ("The reference, on arena votes: the best AI judges agree with people about 66-69 % of the time without ties, "
             "Starling-RM-7B-alpha 58.9 %, \"pick the longer answer\" 59.8 % (PPE, arXiv 2410.14872).")


def agreement_report(store: Store, *, judges: list[str] | None = None, by: GroupKey | None = None, rounds: int = 1000,
                     board_rounds: int = 100, seed: int = 0) -> dict:
    """The agreement of each judge with the human votes (overall, or per category or model pair) and its board's comparison.

    Everything is computed on columns read straight from the store (:class:`arena.judges.columns.JudgedColumns`): at a
    million judged battles the report takes seconds, not the minutes one Python object per battle would cost.
    """
    columns = store.judged_columns(judges)
    if by == "category":
        reports: list[JudgeAgreement] = []
        for category in store.categories():
            reports += agreement_of_columns(store.judged_columns(judges, category=category), rounds=rounds, seed=seed, group=category)
    elif by == "pair":
        reports = agreement_by_pair_columns(columns, rounds=rounds, seed=seed)
    else:
        reports = agreement_of_columns(columns, rounds=rounds, seed=seed)
    boards = compare_judged(columns, rounds=board_rounds, seed=seed) if len(columns) else []
    return {"by": by, "agreement": [_agreement_row(r) for r in reports], "boards": [_board_row(b) for b in boards]}


class AgreementService:
    """The report for the tabs, recomputed only after a judgement was saved since the last one (thread-safe)."""

    def __init__(self, store: Store, *, rounds: int = 200, board_rounds: int = 50) -> None:
        self.store = store
        self.rounds = rounds
        self.board_rounds = board_rounds
        self._lock = threading.Lock()
        self._kept: tuple[object, dict] | None = None

    def report(self) -> dict:
        version = self.store.judgement_counts()
        with self._lock:
            if self._kept is None or self._kept[0] != version:
                self._kept = (version, agreement_report(self.store, rounds=self.rounds, board_rounds=self.board_rounds))
            return self._kept[1]

    def markdown(self) -> str:
        return agreement_markdown(self.report())


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def _estimate(estimate: Estimate) -> dict[str, float | None]:
    return {"value": _number(estimate.value), "low": _number(estimate.low), "high": _number(estimate.high)}


def _agreement_row(report: JudgeAgreement) -> dict:
    return {
        "judge": report.judge, "group": report.group, "n_battles": report.n_battles, "n_invalid": report.n_invalid,
        "n_valid": report.n_valid, "n_decisive": report.n_decisive, "invalid_rate": _estimate(report.invalid_rate),
        "agreement_without_ties": _estimate(report.agreement_without_ties),
        "agreement_with_ties": _estimate(report.agreement_with_ties), "cohen_kappa": _estimate(report.cohen_kappa),
        "position_consistency": _estimate(report.position_consistency),
    }


def _board_row(board: BoardComparison) -> dict:
    style = board.style
    return {
        "judge": board.judge, "n_battles": board.n_battles, "spearman": _number(board.spearman),
        "contradicted_pairs": board.contradicted_pairs,
        "board": [{"model": human.model, "human_score": round(human.score, 2), "judge_score": round(judged.score, 2)}
                  for human, judged in _paired_rows(board)],
        "goodhart": [{"model": g.model, "human_score": round(g.human_score, 2), "judge_score": round(g.judge_score, 2),
                      "gap": round(g.gap, 2), "margin": round(g.margin, 2),
                      "gap_after_style": None if style is None else round(style.gap_after_style[g.model], 2),
                      "margin_after_style": None if style is None else round(style.margin_after_style[g.model], 2)}
                     for g in board.goodhart],
        "style": None if style is None else _style_rows(style),
    }


def _paired_rows(board: BoardComparison) -> list[tuple]:
    """The human board's rows (best first) with the judge's row of the same model."""
    judged = {row.model: row for row in board.judge_board.rows}
    return [(row, judged[row.model]) for row in sorted(board.human_board.rows, key=lambda r: -r.score) if row.model in judged]


def _style_rows(style: StyleGap) -> list[dict]:
    return [{"feature": c.feature, "human": round(c.human, 4), "human_se": round(c.human_se, 4), "judge": round(c.judge, 4),
             "judge_se": round(c.judge_se, 4), "difference": round(c.difference, 4), "significant": c.significant}
            for c in style.coefficients]


def agreement_markdown(report: dict) -> str:
    """The report as Markdown: the agreement table, then per judge its board beside the humans' and the Goodhart table."""
    rows = report["agreement"]
    if not rows:
        return "No judged battles yet: judges run on new votes in the background (`ARENA_JUDGING`) or with `python -m arena judge`."
    lines = ["| judge | battles | invalid | agreement (no ties) | agreement (with ties) | Cohen's κ | position consistency |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['judge']} | {r['n_battles']:,} | {_cell(r['invalid_rate'])} | {_cell(r['agreement_without_ties'])} | "
              f"{_cell(r['agreement_with_ties'])} | {_cell(r['cohen_kappa'], '.2f')} | {_cell(r['position_consistency'])} |"
              for r in rows]
    lines.append("\n95 % intervals: bootstrap over battles. " + REFERENCE)
    for board in report["boards"]:
        lines += _board_markdown(board)
    return "\n".join(lines)


def _cell(estimate: dict, form: str = ".1%") -> str:
    if estimate["value"] is None:
        return "–"
    if estimate["low"] is None or estimate["high"] is None:
        return format(estimate["value"], form)
    return f"{estimate['value']:{form}} [{estimate['low']:{form}}, {estimate['high']:{form}}]"


def _board_markdown(board: dict) -> list[str]:
    spearman = "–" if board["spearman"] is None else f"{board['spearman']:.2f}"
    lines = [f"\n#### {board['judge']}: its leaderboard beside the humans'",
             f"Same {board['n_battles']:,} battle{'' if board['n_battles'] == 1 else 's'}. Rank correlation {spearman}; model pairs it orders against the humans "
             f"beyond both intervals: {board['contradicted_pairs']}.", "", "| model | human score | judge score |", "|---|---|---|"]
    lines += [f"| {row['model']} | {row['human_score']:.0f} | {row['judge_score']:.0f} |" for row in board["board"]]
    if board["goodhart"]:
        lines += ["", "**Goodhart table**: rated higher by the judge than by people, beyond both intervals.", "",
                  "| model | human | judge | gap | margin | gap after style control |", "|---|---|---|---|---|---|"]
        lines += [f"| {g['model']} | {g['human_score']:.0f} | {g['judge_score']:.0f} | {g['gap']:+.0f} | ±{g['margin']:.0f} | "
                  + ("–" if g["gap_after_style"] is None else f"{g['gap_after_style']:+.0f} (±{g['margin_after_style']:.0f})") + " |"
                  for g in board["goodhart"]]
    else:
        lines.append("\nNo model is rated higher by the judge than by people beyond the intervals.")
    if board["style"]:
        lines += ["", "Style coefficients (log-odds per standard deviation, ± 95 %), people vs the judge: " + "; ".join(
            f"{s['feature']} {s['human']:+.2f} (±{1.96 * s['human_se']:.2f}) vs {s['judge']:+.2f} (±{1.96 * s['judge_se']:.2f})"
            + (" *" if s["significant"] else "") for s in board["style"]) + " (* differs beyond both intervals)."]
    return lines


__all__ = ["AgreementService", "agreement_markdown", "agreement_report"]
