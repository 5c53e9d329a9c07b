"""The Goodhart table's explanation: style coefficients of a judge's verdicts beside the humans', and the gap left after style control."""

from __future__ import annotations

import numpy as np
import pytest

from arena.judges import JudgedBattle, JudgedVerdict, compare_leaderboards
from arena.judges.style_gap import style_gap

STRENGTH = {"sharp": 0.8, "steady": 0.3, "plain": 0.0, "verbose": -0.4}
LENGTH = {"sharp": 200, "steady": 220, "plain": 180, "verbose": 900}  # the weak model writes four times as much


def arena_judged_by_length(n: int = 6000, seed: int = 3) -> list[JudgedBattle]:
    """People vote by strength alone; the judge picks the longer answer. Lengths vary around each model's habit."""
    rng = np.random.default_rng(seed)
    models = list(STRENGTH)
    records = []
    for i in range(n):
        a, b = rng.choice(len(models), size=2, replace=False)
        model_a, model_b = models[a], models[b]
        human_a = rng.random() < 1 / (1 + np.exp(STRENGTH[model_b] - STRENGTH[model_a]))
        len_a, len_b = (int(LENGTH[m] * rng.uniform(0.7, 1.3)) for m in (model_a, model_b))
        verdict = "a" if len_a > len_b else "b"
        records.append(JudgedBattle(f"b{i}", model_a, model_b, "model_a" if human_a else "model_b", "longer",
                                    JudgedVerdict(verdict, True), style_a=(len_a, 2, 3, 1), style_b=(len_b, 2, 3, 1)))
    return records


def test_a_length_loving_judge_shows_a_larger_length_coefficient_than_people() -> None:
    gap = style_gap("longer", arena_judged_by_length())
    assert gap is not None and gap.n_battles == 6000
    length = {c.feature: c for c in gap.coefficients}["length"]
    assert length.judge > 1.0 and abs(length.human) < 0.2  # people ignore length here, the judge follows it
    assert length.significant and length.difference == pytest.approx(length.judge - length.human)
    for feature in ("headers", "lists", "bold"):  # equal on both sides: no covariate, no effect
        coefficient = {c.feature: c for c in gap.coefficients}[feature]
        assert coefficient.judge == pytest.approx(0.0, abs=1e-9) and not coefficient.significant


def test_the_verbose_model_is_in_the_goodhart_table_and_style_explains_its_gap() -> None:
    [board] = compare_leaderboards(arena_judged_by_length(), rounds=50)
    rows = {row.model: row for row in board.goodhart}
    assert "verbose" in rows and rows["verbose"].gap > 300  # the weakest model tops the judge's board
    assert board.style is not None
    after = board.style.gap_after_style["verbose"]
    assert abs(after) < rows["verbose"].gap / 3  # controlled for length, most of the gap is gone


def test_a_judge_that_copies_people_has_their_coefficients_and_no_gap() -> None:
    copied = [JudgedBattle(r.battle_id, r.model_a, r.model_b, r.human_winner, "copy", JudgedVerdict("a" if r.human_winner == "model_a" else "b", True),
                           style_a=r.style_a, style_b=r.style_b) for r in arena_judged_by_length(2000)]
    gap = style_gap("copy", copied)
    assert gap is not None
    for coefficient in gap.coefficients:
        assert coefficient.judge == pytest.approx(coefficient.human) and not coefficient.significant
    assert max(abs(v) for v in gap.gap_after_style.values()) < 1e-6
    assert all(margin > 0 for margin in gap.margin_after_style.values())


def test_battles_without_style_counts_or_verdicts_are_left_out() -> None:
    records = arena_judged_by_length(200)
    plain = [JudgedBattle(r.battle_id + "x", r.model_a, r.model_b, r.human_winner, r.judge, r.verdict) for r in records[:50]]
    invalid = [JudgedBattle(r.battle_id + "y", r.model_a, r.model_b, r.human_winner, r.judge, JudgedVerdict.invalid("garbage"),
                            style_a=r.style_a, style_b=r.style_b) for r in records[:50]]
    gap = style_gap("longer", records + plain + invalid)
    assert gap is not None and gap.n_battles == 200
    assert style_gap("longer", plain) is None
