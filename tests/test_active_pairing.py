"""Active pairing: the gains by hand, the mix with weights and floor, the fallback, the bounded cost, the drift to uncertain pairs."""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from arena.active_pairing import (
    RIDGE,
    WIDEST_POWER,
    active_probabilities,
    build_table,
    draw_pair,
    fisher_covariance,
    weight_probabilities,
    widest_gains,
)
from arena.config import PairingSpec
from arena.leaderboard import LeaderboardQuery, LeaderboardService
from arena.pair_policy import PairPolicy
from arena.pairing import Candidate, pair_weights, sample_pair
from arena.store import Store
from tests.helpers import records

NAMES = ["a", "b", "c"]
THETA = np.array([0.5, 0.0, -0.5])
COUNTS = np.array([[0, 40, 20], [40, 0, 10], [20, 10, 0]], dtype=float)


def predicted(theta: np.ndarray = THETA) -> np.ndarray:
    p = expit(theta[:, None] - theta[None, :])
    np.fill_diagonal(p, np.nan)
    return p


def test_paper_rule_mixed_with_weights_and_floor_matches_a_hand_computation() -> None:
    """Three models: series–parallel variances, √(Σ/n) − √(Σ/(n+1)), weights (2, 1, 1) and a floor of 0.1, by hand."""
    p = expit(THETA[:, None] - THETA[None, :])
    c = {pair: COUNTS[pair] * p[pair] * (1 - p[pair]) for pair in [(0, 1), (0, 2), (1, 2)]}  # each pair's information
    variance = {  # θᵢ − θⱼ: the direct pair in parallel with the path through the third model
        (0, 1): 1 / (c[0, 1] + 1 / (1 / c[0, 2] + 1 / c[1, 2])),
        (0, 2): 1 / (c[0, 2] + 1 / (1 / c[0, 1] + 1 / c[1, 2])),
        (1, 2): 1 / (c[1, 2] + 1 / (1 / c[0, 1] + 1 / c[0, 2])),
    }
    gain = {pair: math.sqrt(COUNTS[pair] * v / COUNTS[pair]) - math.sqrt(COUNTS[pair] * v / (COUNTS[pair] + 1))
            for pair, v in variance.items()}
    weights = {(0, 1): 5 / 12, (0, 2): 5 / 12, (1, 2): 2 / 12}  # a (weight 2) first half the time, then by weight
    mixed = {pair: weights[pair] * gain[pair] for pair in weights}
    expected = {pair: 0.9 * mixed[pair] / sum(mixed.values()) + 0.1 * weights[pair] for pair in weights}

    table = build_table(NAMES, COUNTS, predicted(), rule="paper")
    assert table is not None
    candidates = [Candidate("a", 2.0), Candidate("b", 1.0), Candidate("c", 1.0)]
    names, probabilities = active_probabilities(candidates, table, floor=0.1)
    assert names == NAMES
    for (i, j), value in expected.items():
        assert probabilities[i, j] == pytest.approx(value, rel=1e-3)  # the fit's ridge (1e-3) is the only difference
    assert probabilities.sum() == pytest.approx(1.0)
    assert np.all(np.tril(probabilities) == 0)


def test_weight_matrix_equals_the_weights_rule() -> None:
    """The vectorised weights (targets and zero weights included) are exactly pair_weights."""
    candidates = [Candidate("x", 3), Candidate("b", 1), Candidate("c", 1), Candidate("d", 0.5, ("b",)), Candidate("off", 0)]
    names, matrix = weight_probabilities(candidates)
    assert "off" not in names
    for (low, high), p in pair_weights(candidates).items():
        assert matrix[names.index(low), names.index(high)] == pytest.approx(p, abs=1e-12)


def test_widest_rule_equals_refitting_the_covariance_with_one_more_vote() -> None:
    """The rank-one update agrees with inverting the information after adding one vote on each pair."""
    gains = widest_gains(predicted(), fisher_covariance(COUNTS, predicted()))
    p = expit(THETA[:, None] - THETA[None, :])
    centre = np.eye(3) - 1 / 3

    def objective(counts: np.ndarray, top: float) -> float:
        weights = counts * p * (1 - p)
        np.fill_diagonal(weights, 0)
        scores = centre @ np.linalg.inv(np.diag(weights.sum(1)) - weights + RIDGE * np.eye(3)) @ centre
        return float(((np.diag(scores) / top) ** WIDEST_POWER).sum())

    weights = COUNTS * p * (1 - p)
    top = float(np.diag(centre @ np.linalg.inv(np.diag(weights.sum(1)) - weights + RIDGE * np.eye(3)) @ centre).max())
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        more = COUNTS.copy()
        more[i, j] += 1
        more[j, i] += 1
        assert gains[i, j] == pytest.approx(objective(COUNTS, top) - objective(more, top), rel=1e-6)


def test_unplayed_pairs_and_unknown_models_get_the_largest_gain() -> None:
    """A pair never played, or a model the leaderboard does not know yet, is tried first."""
    counts = COUNTS.copy()
    counts[1, 2] = counts[2, 1] = 0
    table = build_table(NAMES, counts, predicted(), rule="paper")
    assert table is not None
    assert table.gains[1, 2] == table.unplayed == table.gains.max()
    names, probabilities = active_probabilities([Candidate(n, 1.0) for n in [*NAMES, "new"]], table, floor=0.0)
    new = names.index("new")
    assert probabilities[0, new] == pytest.approx(probabilities[1, 2])


@pytest.mark.parametrize("counts", [np.zeros((3, 3)), np.zeros((1, 1))])
def test_no_table_without_votes_or_with_one_model(counts: np.ndarray) -> None:
    """No votes, or fewer than two models: the gains cannot be computed."""
    assert build_table(NAMES[: len(counts)], counts, np.full(counts.shape, 0.5)) is None


@pytest.mark.parametrize("rule", ["paper", "widest"])
def test_active_draws_go_to_the_uncertain_pair(rule: str) -> None:
    """Seeded draws: the pair with 5 battles (beside two with 500) gets more than its uniform third, and the most draws."""
    counts = np.array([[0, 500, 500], [500, 0, 5], [500, 5, 0]], dtype=float)
    table = build_table(NAMES, counts, predicted(np.zeros(3)), rule=rule)
    assert table is not None
    names, probabilities = active_probabilities([Candidate(n, 1.0) for n in NAMES], table, floor=0.1)
    cumulative = np.cumsum(probabilities.ravel())
    rng = random.Random(11)
    drawn = Counter(tuple(sorted(draw_pair(names, cumulative, rng))) for _ in range(3000))
    assert drawn[("b", "c")] > 1500 and drawn[("b", "c")] > 2 * max(drawn[("a", "b")], drawn[("a", "c")])
    assert sum(drawn.values()) == 3000 and set(drawn) <= {("a", "b"), ("a", "c"), ("b", "c")}


@dataclass
class _Ratings:
    models: list[str]
    battle_counts: np.ndarray
    predicted: np.ndarray


@dataclass
class _Board:
    ratings: _Ratings


class SpySource:
    """A live leaderboard stand-in that counts its fits."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.fits = 0

    def votes_version(self) -> int:
        return self.version

    def get(self, query: LeaderboardQuery | None = None) -> _Board:
        self.fits += 1
        return _Board(_Ratings(NAMES, COUNTS, predicted()))


CANDIDATES = [Candidate(n, 1.0) for n in NAMES]


def test_no_votes_falls_back_to_the_weights_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Before any vote, active pairing draws exactly as the weights would, and says so once, not per draw."""
    policy = PairPolicy(PairingSpec(sampling="active"), SpySource(version=0))
    with caplog.at_level(logging.INFO, logger="arena.pair_policy"):
        assert not policy.refresh()
        ours = [policy.draw(CANDIDATES, random.Random(5)) for _ in range(50)]
    assert ours == [sample_pair(CANDIDATES, random.Random(5)) for _ in range(50)]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "no votes yet" in messages[0] and "weights" in messages[0]


def test_the_fit_is_not_called_per_draw() -> None:
    """Draws never fit; a refresh fits only after refresh_votes new votes or refresh_seconds with some."""
    now = [0.0]
    source = SpySource(version=10)
    policy = PairPolicy(PairingSpec(sampling="active", refresh_votes=100, refresh_seconds=30), source, clock=lambda: now[0])
    for _ in range(200):
        policy.draw(CANDIDATES, random.Random(1))
    assert source.fits == 0 and policy.table is None
    assert policy.refresh() and source.fits == 1
    rng = random.Random(2)
    for _ in range(2000):
        policy.draw(CANDIDATES, rng)
    source.version += 99
    assert not policy.refresh() and source.fits == 1  # 99 new votes, 0 s: not due
    source.version += 1
    assert policy.refresh() and source.fits == 2  # 100 new votes
    source.version += 1
    now[0] += 29.0
    assert not policy.refresh() and source.fits == 2
    now[0] += 1.0
    assert policy.refresh() and source.fits == 3  # one new vote, 30 s after the last build


def test_weights_policy_never_reads_the_leaderboard() -> None:
    """The default policy is the weights rule and costs nothing extra."""
    source = SpySource(version=10)
    policy = PairPolicy(PairingSpec(), source)
    assert not policy.refresh() and source.fits == 0
    assert policy.draw(CANDIDATES, random.Random(3)) == sample_pair(CANDIDATES, random.Random(3))


def test_a_reloaded_rule_is_applied_to_the_last_leaderboard() -> None:
    """Switching rule on a reload rebuilds the table at once from the last leaderboard, without a new fit."""
    source = SpySource(version=10)
    policy = PairPolicy(PairingSpec(sampling="active"), source)
    policy.refresh()
    paper = policy.table
    policy.use(PairingSpec(sampling="active", rule="widest"))
    assert policy.table is not paper and policy.table is not None and source.fits == 1
    widest = build_table(NAMES, COUNTS, predicted(), rule="widest")
    assert widest is not None and np.allclose(policy.table.gains, widest.gains)


def test_refresh_reads_the_live_leaderboard_of_a_store(tmp_path: Path) -> None:
    """Against the real LeaderboardService: the table covers the voted models, and draws follow it."""
    store = Store(f"sqlite:///{tmp_path / 'arena.sqlite3'}")
    try:
        store.insert_battles(records(store, 200, seed=3))
        service = LeaderboardService(store)
        policy = PairPolicy(PairingSpec(sampling="active"), service)
        assert policy.refresh()
        assert policy.table is not None and sorted(policy.table.models) == ["m1", "m2", "m3", "m4"]
        candidates = [Candidate(m, 1.0) for m in ["m1", "m2", "m3", "m4"]]
        assert all(a != b for a, b in (policy.draw(candidates, random.Random(i)) for i in range(100)))
    finally:
        store.close()
