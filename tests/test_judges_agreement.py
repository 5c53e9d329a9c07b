"""AI judges against the human vote: verdicts from both orders, agreement with hand-computed figures, leaderboards compared."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arena.judges import (
    JudgedBattle,
    JudgedVerdict,
    agreement,
    agreement_arrays,
    agreement_by,
    combine_orders,
    compare_leaderboards,
    human_verdict,
)
from arena.judges.agreement import CELLS, VERDICT_CODE, battle_cells
from arena.judges.goodhart import contradicted_pairs, goodhart_rows

# ---------------------------------------------------------------- verdicts


@pytest.mark.parametrize(("first", "swapped", "verdict", "consistent"), [
    ("a", "a", "a", True),
    ("b", "b", "b", True),
    ("tie", "tie", "tie", True),
    ("a", "b", "tie", False),     # the choice followed the position
    ("b", "a", "tie", False),
    ("tie", "a", "tie", False),   # a preference that did not survive the swap
    ("b", "tie", "tie", False),
])
def test_two_orders_combine_into_one_verdict(first, swapped, verdict, consistent) -> None:
    assert combine_orders(first, swapped) == JudgedVerdict(verdict, consistent, None)


def test_a_missing_order_makes_the_battle_invalid_and_says_which() -> None:
    assert combine_orders(None, "a") == JudgedVerdict(None, None, "no verdict in the first order")
    assert combine_orders("a", None).invalid_reason == "no verdict in the swapped order"
    assert combine_orders(None, None).invalid_reason == "no verdict in either order"
    assert not combine_orders(None, "b").valid and combine_orders("b", "b").valid


def test_a_verdict_comes_with_its_consistency_or_not_at_all() -> None:
    with pytest.raises(ValueError):
        JudgedVerdict("a", None, None)
    with pytest.raises(ValueError):
        JudgedVerdict(None, None, None)
    with pytest.raises(ValueError):
        combine_orders("A", "a")  # type: ignore[arg-type]
    assert JudgedVerdict.invalid("output named no winner") == JudgedVerdict(None, None, "output named no winner")


def test_human_winners_map_to_verdicts_with_both_ties_a_tie() -> None:
    assert [human_verdict(w) for w in ("model_a", "model_b", "tie", "tie (bothbad)")] == ["a", "b", "tie", "tie"]
    with pytest.raises(ValueError, match="unknown winner"):
        human_verdict("model_c")


# ---------------------------------------------------------------- agreement, by hand

# Ten battles: (human winner, judge's verdict in order (A, B), in order (B, A) mapped back) -> combined verdict.
TEN = [
    ("model_a", "a", "a"),              # 1: a,   consistent
    ("model_a", "a", "a"),              # 2: a,   consistent
    ("model_a", "b", "b"),              # 3: b,   consistent (and wrong)
    ("model_b", "b", "b"),              # 4: b,   consistent
    ("model_b", "a", "b"),              # 5: tie, inconsistent (flipped with the order)
    ("tie", "tie", "tie"),              # 6: tie, consistent
    ("tie (bothbad)", "a", "a"),        # 7: a,   consistent (the human tie is a tie)
    ("model_a", "b", "a"),              # 8: tie, inconsistent (flipped with the order)
    ("tie", "tie", "b"),                # 9: tie, inconsistent (tie against a side)
    ("model_a", "a", None),             # 10: invalid
]


def ten_battles(judge: str = "judge-1", copies: int = 1) -> list[JudgedBattle]:
    return [
        JudgedBattle(f"{judge}-{c}-{i}", "alpha", "beta", human, judge, combine_orders(first, swapped))
        for c in range(copies) for i, (human, first, swapped) in enumerate(TEN)
    ]


def test_ten_battles_give_the_hand_computed_figures() -> None:
    # Valid battles 1-9. Confusion [human][judge] in the order a, b, tie:
    #   human a:   battles 1, 2 -> a; 3 -> b; 8 -> tie     = [2, 1, 1]
    #   human b:   battle 4 -> b; 5 -> tie                 = [0, 1, 1]
    #   human tie: battle 7 -> a; 6, 9 -> tie              = [1, 0, 2]
    # Without ties (both decisive: battles 1-4): matches 1, 2, 4 -> 3/4.
    # With ties: diagonal 2 + 1 + 2 = 5 of 9 -> 5/9.
    # κ: p_o = 5/9; rows (human) 4, 2, 3; columns (judge) 3, 2, 4;
    #   p_e = (4·3 + 2·2 + 3·4) / 81 = 28/81; κ = (45/81 − 28/81) / (1 − 28/81) = 17/53.
    # Consistent: battles 1, 2, 3, 4, 6, 7 -> 6/9. Invalid: battle 10 -> 1/10.
    [report] = agreement(ten_battles(), rounds=200)
    assert (report.judge, report.group, report.n_battles, report.n_invalid, report.n_valid, report.n_decisive) == ("judge-1", None, 10, 1, 9, 4)
    assert report.agreement_without_ties.value == pytest.approx(3 / 4)
    assert report.agreement_with_ties.value == pytest.approx(5 / 9)
    assert report.cohen_kappa.value == pytest.approx(17 / 53)
    assert report.position_consistency.value == pytest.approx(6 / 9)
    assert report.invalid_rate.value == pytest.approx(1 / 10)


def test_kappa_matches_the_formula_on_the_confusion_matrix() -> None:
    """κ written out independently: the confusion matrix tallied here, then p_o and p_e straight from it."""
    records = ten_battles() + [JudgedBattle("extra", "alpha", "beta", "model_b", "judge-1", combine_orders("b", "b"))]
    confusion = np.zeros((3, 3))
    for record in records:
        if record.verdict.verdict is not None:
            confusion[VERDICT_CODE[human_verdict(record.human_winner)], VERDICT_CODE[record.verdict.verdict]] += 1
    total = confusion.sum()
    p_o = np.trace(confusion) / total
    p_e = sum(confusion[k, :].sum() * confusion[:, k].sum() for k in range(3)) / total**2
    # By hand as a check on the check: confusion now has human b = [0, 2, 1], diagonal 6 of 10,
    # rows 4, 3, 3, columns 3, 3, 4: p_e = (12 + 9 + 12) / 100 = 0.33, κ = (0.6 − 0.33) / 0.67 = 27/67.
    assert (p_o - p_e) / (1 - p_e) == pytest.approx(27 / 67)
    [report] = agreement(records, rounds=0)
    assert report.cohen_kappa.value == pytest.approx((p_o - p_e) / (1 - p_e))


def test_the_dataclass_and_the_columnar_entry_points_agree() -> None:
    human = np.array([VERDICT_CODE[human_verdict(h)] for h, _, _ in TEN])
    combined = [combine_orders(first, swapped) for _, first, swapped in TEN]
    judge = np.array([VERDICT_CODE[v.verdict] if v.verdict else -1 for v in combined])
    consistent = np.array([bool(v.consistent) for v in combined])
    columnar = agreement_arrays("judge-1", human, judge, consistent, judge >= 0, rounds=300, seed=4)
    assert agreement(ten_battles(), rounds=300, seed=4) == [columnar]


def test_undefined_rates_are_nan_not_errors() -> None:
    only_ties = [JudgedBattle(str(i), "alpha", "beta", "tie", "j", combine_orders("tie", "tie")) for i in range(5)]
    [report] = agreement(only_ties, rounds=50)
    assert math.isnan(report.agreement_without_ties.value) and math.isnan(report.agreement_without_ties.low)
    assert report.agreement_with_ties.value == 1.0
    assert math.isnan(report.cohen_kappa.value)  # p_e = 1: κ is undefined
    [nothing_valid] = agreement([JudgedBattle("x", "alpha", "beta", "tie", "j", combine_orders(None, None))], rounds=50)
    assert nothing_valid.invalid_rate.value == 1.0 and math.isnan(nothing_valid.position_consistency.value)


def test_bad_input_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="judged twice"):
        agreement(ten_battles() + ten_battles()[:1])
    with pytest.raises(ValueError, match="same length"):
        battle_cells(np.zeros(3), np.zeros(2), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="judge codes"):
        battle_cells(np.zeros(2), np.array([0, 3]), np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="unknown breakdown"):
        agreement_by(ten_battles(), "language")  # type: ignore[arg-type]


# ---------------------------------------------------------------- bootstrap


def test_intervals_contain_the_estimate_and_shrink_with_more_battles() -> None:
    [small] = agreement(ten_battles(copies=3), rounds=1000)
    [large] = agreement(ten_battles(copies=300), rounds=1000)
    for name in ("invalid_rate", "agreement_without_ties", "agreement_with_ties", "cohen_kappa", "position_consistency"):
        for report in (small, large):
            estimate = getattr(report, name)
            assert estimate.low <= estimate.value <= estimate.high, name
        assert getattr(large, name).value == pytest.approx(getattr(small, name).value)  # same shares, more battles
        assert getattr(large, name).high - getattr(large, name).low < (getattr(small, name).high - getattr(small, name).low) / 3, name


def test_the_bootstrap_is_reproducible_with_a_seed() -> None:
    assert agreement(ten_battles(copies=5), seed=7) == agreement(ten_battles(copies=5), seed=7)
    assert agreement(ten_battles(copies=5), seed=7) != agreement(ten_battles(copies=5), seed=8)


def test_drawing_cell_counts_matches_resampling_battle_indices() -> None:
    """The multinomial draw is the index bootstrap in distribution: the two give the same interval, within resampling noise."""
    records = ten_battles(copies=90)
    human = np.array([VERDICT_CODE[human_verdict(r.human_winner)] for r in records])
    judge = np.array([VERDICT_CODE[r.verdict.verdict] if r.verdict.verdict else -1 for r in records])
    cells = battle_cells(human, judge, np.array([bool(r.verdict.consistent) for r in records]), judge >= 0)
    rounds, n = 4000, len(cells)
    picks = cells[np.random.default_rng(1).integers(0, n, size=(rounds, n))]
    counts = np.bincount((np.arange(rounds)[:, None] * CELLS + picks).ravel(), minlength=rounds * CELLS).reshape(rounds, CELLS)
    decisive = counts[:, [0, 4, 9, 13]].sum(axis=1) / counts[:, [0, 1, 3, 4, 9, 10, 12, 13]].sum(axis=1)  # (a,a),(b,b) / both decisive
    with_ties = counts[:, [0, 4, 8, 9, 13, 17]].sum(axis=1) / counts[:, :18].sum(axis=1)
    [report] = agreement(records, rounds=rounds, seed=2)
    for estimate, rates in ((report.agreement_without_ties, decisive), (report.agreement_with_ties, with_ties)):
        assert estimate.low == pytest.approx(np.percentile(rates, 2.5), abs=0.012)
        assert estimate.high == pytest.approx(np.percentile(rates, 97.5), abs=0.012)


# ---------------------------------------------------------------- breakdowns


def test_breakdowns_by_category_and_by_pair() -> None:
    records = [
        JudgedBattle("1", "beta", "alpha", "model_a", "j", combine_orders("a", "a"), category="coding"),
        JudgedBattle("2", "alpha", "beta", "model_a", "j", combine_orders("b", "b"), category="coding"),
        JudgedBattle("3", "alpha", "gamma", "model_b", "j", combine_orders("b", "b")),
        JudgedBattle("1", "beta", "alpha", "model_a", "k", combine_orders("a", None), category="coding"),
    ]
    by_category = agreement_by(records, "category", rounds=50)
    assert [(r.judge, r.group, r.n_battles, r.agreement_with_ties.value) for r in by_category] == [
        ("j", "coding", 2, 0.5), ("j", "overall", 1, 1.0), ("k", "coding", 1, pytest.approx(float("nan"), nan_ok=True)),
    ]
    by_pair = agreement_by(records, "pair", rounds=50)
    assert [(r.judge, r.group, r.n_battles) for r in by_pair] == [("j", "alpha vs beta", 2), ("j", "alpha vs gamma", 1), ("k", "alpha vs beta", 1)]
    assert [r.judge for r in agreement(records, rounds=50)] == ["j", "k"]


# ---------------------------------------------------------------- leaderboards


HUMAN_ORDER = ["strong", "good", "verbose", "weak"]  # humans: each model beats every later one 70 times in 100


def arena_battles(judge_winner) -> list[JudgedBattle]:
    """100 battles per pair of HUMAN_ORDER, sides alternating; the judge's combined verdict from *judge_winner(a, b, human)*."""
    records = []
    for i, better in enumerate(HUMAN_ORDER):
        for worse in HUMAN_ORDER[i + 1:]:
            for k in range(100):
                a, b = (better, worse) if k % 2 else (worse, better)
                human = "model_a" if (a == better) == (k < 70) else "model_b"
                verdict = judge_winner(a, b, human)
                records.append(JudgedBattle(f"{a}-{b}-{k}", a, b, human, "judge", combine_orders(verdict, verdict)))
    return records


def test_a_judge_that_agrees_exactly_reproduces_the_board() -> None:
    [board] = compare_leaderboards(arena_battles(lambda a, b, human: human_verdict(human)), rounds=50)
    assert board.spearman == pytest.approx(1.0)
    assert board.contradicted_pairs == 0 and board.goodhart == []
    assert board.n_battles == 600 and [r.model for r in board.human_board.rows] == HUMAN_ORDER


def test_a_judge_that_always_prefers_the_verbose_model_shows_in_the_goodhart_rows() -> None:
    def likes_length(a: str, b: str, human: str) -> str:
        return "a" if a == "verbose" else "b" if b == "verbose" else human_verdict(human)

    [board] = compare_leaderboards(arena_battles(likes_length), rounds=50)
    [row] = board.goodhart
    assert row.model == "verbose" and row.gap > row.margin > 0
    assert row.gap == pytest.approx(row.judge_score - row.human_score)
    assert board.judge_board.rows[0].model == "verbose"
    assert board.contradicted_pairs >= 2  # at least "strong" and "good" over "verbose", reversed beyond both intervals


def test_a_judge_that_reverses_every_vote_contradicts_every_separated_pair() -> None:
    [board] = compare_leaderboards(arena_battles(lambda a, b, human: "b" if human == "model_a" else "a"), rounds=50)
    assert board.spearman == pytest.approx(-1.0)
    rows = board.human_board.rows
    separated = sum(rows[i].ci_low > rows[j].ci_high for i in range(len(rows)) for j in range(len(rows)))
    assert separated > 0 and board.contradicted_pairs == separated


def test_pairs_and_goodhart_rows_by_hand() -> None:
    # Humans: x in [90, 110], y in [40, 60] (x above y); judge: y in [95, 105], x in [45, 55] (y above x) -> 1 pair.
    assert contradicted_pairs(np.array([90.0, 40.0]), np.array([110.0, 60.0]), np.array([45.0, 95.0]), np.array([55.0, 105.0])) == 1
    # Half widths 30 (human) and 40 (judge): margin sqrt(30² + 40²) = 50. Gaps 60 (row), 45 (not), −70 (underrated, not).
    human = (np.array([1000.0, 1000.0, 1000.0]), np.array([970.0, 970.0, 970.0]), np.array([1030.0, 1030.0, 1030.0]))
    judge = (np.array([1060.0, 1045.0, 930.0]), np.array([1020.0, 1005.0, 890.0]), np.array([1100.0, 1085.0, 970.0]))
    [row] = goodhart_rows(["x", "y", "z"], human, judge)
    assert (row.model, row.gap, row.margin) == ("x", pytest.approx(60.0), pytest.approx(50.0))
    # Only the facing sides count: the judge's upper side unbounded (x wins every battle) and a human lower side far
    # away change nothing; a judge lower side 60 below its score (margin sqrt(30² + 60²) ≈ 67) drops the row.
    judge[2][0], human[1][0] = np.inf, 500.0
    [row] = goodhart_rows(["x", "y", "z"], human, judge)
    assert (row.model, row.margin) == ("x", pytest.approx(50.0))
    judge[1][0] = 1000.0
    assert goodhart_rows(["x", "y", "z"], human, judge) == []


def test_spearman_matches_scipy_with_ties_and_is_nan_when_undefined() -> None:
    from scipy.stats import spearmanr

    from arena.judges.goodhart import _spearman

    rng = np.random.default_rng(5)
    for _ in range(20):
        human, judge = rng.integers(0, 6, 12).astype(float), rng.integers(0, 6, 12).astype(float)  # many ties
        assert _spearman(human, judge) == pytest.approx(spearmanr(human, judge).statistic)
    assert math.isnan(_spearman(np.array([1.0]), np.array([2.0])))
    assert math.isnan(_spearman(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])))
