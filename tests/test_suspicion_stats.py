"""The statistics of arena.suspicion against independent computations: by hand, by brute force, and by scipy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import combine_pvalues

from arena.suspicion import A_WON, B_WON, TIE, SuspicionConfig, detect, voter_votes
from arena.suspicion.checkpoints import layout
from arena.suspicion.consensus import own_pair_counts, pair_counts
from arena.suspicion.pvalues import (
    bh_adjusted,
    cauchy_combination,
    fisher_pvalue,
    history_pvalues,
    lancaster_terms,
    surprise_bounds,
)
from arena.suspicion.saddlepoint import upper_tail
from arena.suspicion.signals import peak_per_window, side_binomial


def test_history_pvalue_is_the_rank_among_the_pairs_other_votes() -> None:
    """(1 + #{history score ≥ this vote's}) / (history + 1), A's score 1 / ½ / 0, by hand."""
    history = np.array([[3, 1, 6], [3, 1, 6], [3, 1, 6], [0, 0, 0]], dtype=float)
    outcome = np.array([A_WON, TIE, B_WON, A_WON])
    assert history_pvalues(history, outcome) == pytest.approx([(1 + 3) / 11, (1 + 4) / 11, 1.0, 1.0])


def test_surprise_bounds_and_lancaster_terms_by_hand_and_by_integration() -> None:
    probs = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.4, 0.4, 0.2], [0.4, 0.4, 0.2]])
    lower, upper = surprise_bounds(probs, np.array([B_WON, TIE, A_WON, TIE]))
    # B (0.3): outcomes no likelier are B and the tie → 0.4, strictly less likely the tie → 0.1; and so on.
    assert upper == pytest.approx([0.4, 0.1, 1.0, 0.2]) and lower == pytest.approx([0.1, 0.0, 0.2, 0.0])
    terms = lancaster_terms(lower, upper)
    for lo, hi, term in zip(lower, upper, terms):
        integral, _ = quad(lambda u: -2 * np.log(u), lo, hi)
        assert term == pytest.approx(integral / (hi - lo), rel=1e-9)
    assert lancaster_terms(np.array([0.25]), np.array([0.25])) == pytest.approx([-2 * np.log(0.25)])  # no width: plain Fisher


def test_lancaster_terms_have_mean_two_under_the_model() -> None:
    """E over the outcomes of the mean-value term is exactly 2, Fisher's −2 ln U mean."""
    probs = np.array([[0.55, 0.3, 0.15]] * 3)
    lower, upper = surprise_bounds(probs, np.array([A_WON, B_WON, TIE]))
    assert float(np.dot(probs[0], lancaster_terms(lower, upper))) == pytest.approx(2.0)


def test_fisher_combination_matches_scipy() -> None:
    p = np.array([0.2, 0.01, 0.5, 0.03, 0.9])
    expected = combine_pvalues(p, method="fisher").pvalue
    assert fisher_pvalue(np.array([-2 * np.log(p).sum()]), np.array([len(p)]))[0] == pytest.approx(expected)


def test_paper_test_is_fisher_on_history_pvalues_with_bonferroni_over_checkpoints() -> None:
    """Voter x's p-value, recomputed from scratch: history without x, per-vote ranks, scipy's Fisher, × checkpoints."""
    rng = np.random.default_rng(3)
    rows = [(f"v{rng.integers(0, 6)}", *rng.choice(["m1", "m2", "m3"], 2, replace=False),
             rng.choice(["model_a", "model_b", "tie"])) for _ in range(300)]
    mine = [("x", *rng.choice(["m1", "m2", "m3"], 2, replace=False), rng.choice(["model_a", "model_b", "tie"])) for _ in range(12)]
    votes = voter_votes(*map(np.array, zip(*(rows + mine))))
    report = detect(votes, SuspicionConfig(method="paper", checkpoints=(10,)))
    score = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}

    def score_of(model: str, row: tuple) -> float:
        return score[row[3]] if row[1] == model else 1.0 - score[row[3]]

    per_vote = []
    for vote in mine:
        history = [score_of(vote[1], r) for r in rows if {r[1], r[2]} == {vote[1], vote[2]}]  # x's own votes left out
        per_vote.append((1 + sum(h >= score_of(vote[1], vote) for h in history)) / (len(history) + 1))
    after_10 = combine_pvalues(per_vote[:10], method="fisher").pvalue
    after_all = combine_pvalues(per_vote, method="fisher").pvalue
    assert report.tested.pvalue[report.voters.index("x")] == pytest.approx(min(1.0, 2 * min(after_10, after_all)))
    assert report.tested.tests["paper"][report.voters.index("x")] == pytest.approx(min(after_10, after_all))


def test_benjamini_hochberg_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.2])
    # sorted 0.01 0.03 0.04 0.2 → × 4/rank: 0.04 0.06 0.0533 0.2 → running minimum from the right: 0.04 0.0533 0.0533 0.2
    assert bh_adjusted(p) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])
    # weights 3, 1, 1, 3 (mean 2 → 1.5, 0.5, 0.5, 1.5): p / w = 0.00667 0.08 0.06 0.1333, then as above
    # sorted 0.00667 0.06 0.08 0.1333 → × 4/rank: 0.0267 0.12 0.1067 0.1333 → running minimum: 0.0267 0.1067 0.1067 0.1333
    assert bh_adjusted(p, np.array([3, 1, 1, 3])) == pytest.approx([0.08 / 3, 0.32 / 3, 0.32 / 3, 0.4 / 3])


def test_cauchy_combination_by_hand() -> None:
    p = np.array([0.01, 0.5, 0.2, 0.9, 1e-20])
    groups = np.array([0, 0, 1, 1, 2])
    t0 = (np.tan((0.5 - 0.01) * np.pi) + np.tan(0.0)) / 2
    t1 = (np.tan((0.5 - 0.2) * np.pi) + np.tan((0.5 - 0.9) * np.pi)) / 2
    combined = cauchy_combination(p, groups, 3)
    assert combined[0] == pytest.approx(0.5 - np.arctan(t0) / np.pi)
    assert combined[1] == pytest.approx(0.5 - np.arctan(t1) / np.pi)
    assert combined[2] == pytest.approx(1e-20, rel=1e-6)  # one tiny p-value stays itself


def test_saddlepoint_tail_against_exact_enumeration() -> None:
    """P(Σ w·(y − p) ≥ u) over all 2ⁿ outcomes, at u where the exact tail is 5 %, 1 % and 0.1 %: within a factor of 2."""
    rng = np.random.default_rng(7)
    for n in (10, 14, 18):
        p, w = rng.uniform(0.05, 0.95, n), rng.normal(0, 1, n)
        outcomes = np.array(list(itertools.product([0, 1], repeat=n)))
        values = (w * (outcomes - p)).sum(axis=1)
        probs = np.prod(np.where(outcomes == 1, p, 1 - p), axis=1)
        order = np.argsort(-values)
        for target in (0.05, 0.01, 0.001):
            u = values[order][np.searchsorted(np.cumsum(probs[order]), target)]
            exact = probs[values >= u - 1e-12].sum()
            approx = upper_tail(np.zeros(n, dtype=np.int64), w, p, np.array([u]))[0]
            assert 0.5 * exact <= approx <= 1.5 * exact, (n, target, exact, approx)
        top = np.array([values.max()])  # the largest value: its exact probability
        assert upper_tail(np.zeros(n, dtype=np.int64), w, p, top)[0] == pytest.approx(probs[values.argmax()])
        assert upper_tail(np.zeros(n, dtype=np.int64), w, p, top + 1.0)[0] == 0.0


def test_checkpoint_totals_are_the_sums_over_each_voters_first_votes() -> None:
    voter = np.array([1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1])
    values = np.arange(len(voter), dtype=float)
    rows = layout(voter, 2, checkpoints=(2, 4), min_votes=4)
    got = dict(zip(zip(rows.row_voter.tolist(), rows.row_length.tolist()), rows.totals(values)))
    mine = {v: values[voter == v] for v in (0, 1)}
    expected = {(v, c): mine[v][:c].sum() for v in (0, 1) for c in (2, 4, len(mine[v])) if c < len(mine[v]) or c == len(mine[v])}
    assert got == pytest.approx(expected)


def test_own_and_pair_counts_by_hand() -> None:
    votes = voter_votes(np.array(["x", "x", "y", "x"]), np.array(["m1", "m2", "m1", "m1"]), np.array(["m2", "m1", "m2", "m3"]),
                        np.array(["model_a", "tie", "model_b", "model_b"]))
    counts = pair_counts(votes)
    assert counts[0, 1].tolist() == [1, 1, 1] and counts[1, 0].tolist() == [1, 1, 1] and counts[2, 0].tolist() == [1, 0, 0]
    # x's own votes on m1–m2, seen from each vote's side A: m1 won once and tied once
    assert own_pair_counts(votes).tolist() == [[1, 1, 0], [0, 1, 1], [0, 0, 1], [0, 0, 1]]


def test_side_binomial_and_bursts_by_hand() -> None:
    assert side_binomial(np.array([9]), np.array([10]))[0] == pytest.approx(2 * 11 / 1024)
    assert side_binomial(np.array([5]), np.array([10]))[0] == 1.0
    voter = np.array([0, 0, 0, 0, 1, 1])
    at = np.array([0.0, 30.0, 59.0, 200.0, 0.0, 100.0])
    rows = layout(voter, 2, checkpoints=(), min_votes=1)
    assert peak_per_window(voter, at, rows).tolist() == [3, 1]


def test_unknown_method_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="robust, paper, surprise"):
        SuspicionConfig(method="magic")
    assert detect(voter_votes(np.array(["a"]), np.array(["m1"]), np.array(["m2"]), np.array(["tie"]))).flagged_voters == []
