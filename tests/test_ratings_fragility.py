"""How fragile the #1 is: the influence search against brute-force removal on tiny arenas, and its confirmation by refits."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from arena.ratings import Comparisons, fit_bradley_terry
from arena.ratings.fragility import order_fragility, top_fragility
from tests.helpers import O

MODELS = ("x", "y", "z")


def random_votes(rng: np.random.Generator, n: int) -> list[tuple[str, str, str]]:
    strengths = {"x": 0.8, "y": 0.4, "z": 0.0}
    votes = []
    for _ in range(n):
        a, b = rng.choice(MODELS, size=2, replace=False)
        u = rng.random()
        p = 1 / (1 + np.exp(strengths[b] - strengths[a]))
        votes.append((str(a), str(b), "tie" if u > 0.9 else "model_a" if u < 0.9 * p else "model_b"))
    return votes


def comparisons_of(votes: list[tuple[str, str, str]]) -> Comparisons:
    return Comparisons.from_outcomes([O(a, b, w, 1) for a, b, w in votes])


def leader_and_runner_up(comparisons: Comparisons) -> tuple[str, str]:
    theta = fit_bradley_terry(comparisons.win_matrix())
    first, second = np.argsort(-theta)[:2]
    return comparisons.models[first], comparisons.models[second]


def brute_force(votes: list[tuple[str, str, str]], leader: str, challenger: str) -> int | None:
    """Try every subset, smallest first: the true fewest votes whose removal puts *challenger* above *leader*."""
    for k in range(1, len(votes)):
        for dropped in combinations(range(len(votes)), k):
            kept = [v for i, v in enumerate(votes) if i not in dropped]
            comparisons = comparisons_of(kept)
            if leader not in comparisons.models or challenger not in comparisons.models:
                continue  # a model with no votes left has no place on the board
            theta = dict(zip(comparisons.models, fit_bradley_terry(comparisons.win_matrix())))
            if theta[challenger] > theta[leader]:
                return k
    return None


@pytest.mark.parametrize("seed", range(8))
def test_the_influence_search_finds_the_brute_force_minimum_on_tiny_arenas(seed: int) -> None:
    votes = random_votes(np.random.default_rng(seed), 11)
    comparisons = comparisons_of(votes)
    leader, runner_up = leader_and_runner_up(comparisons)
    found = order_fragility(comparisons, leader, runner_up)
    assert found.votes == brute_force(votes, leader, runner_up)
    assert found.total_votes == 11 and found.refits >= 1


def test_the_found_votes_really_flip_the_order_when_refitted() -> None:
    rng = np.random.default_rng(11)
    votes = random_votes(rng, 400)
    comparisons = comparisons_of(votes)
    leader, runner_up = leader_and_runner_up(comparisons)
    found = order_fragility(comparisons, leader, runner_up)
    assert found.votes is not None and 0 < found.votes < 400 and found.linear_estimate is not None
    # The same prefix of the influence ordering minus one vote does not flip; with it, it does (the search's bisection).
    from arena.ratings.fragility import _influence_order

    counts = comparisons.count.astype(float)
    theta = fit_bradley_terry(comparisons.win_matrix(counts))
    order, _ = _influence_order(comparisons, counts, theta, comparisons.models.index(leader), comparisons.models.index(runner_up), 1e-3)
    removable = np.cumsum(counts[order])

    def flipped(k: int) -> bool:
        reduced = counts.copy()
        reduced[order] -= np.clip(k - (removable - counts[order]), 0.0, counts[order])
        refit = dict(zip(comparisons.models, fit_bradley_terry(comparisons.win_matrix(reduced))))
        return refit[runner_up] > refit[leader]

    assert flipped(found.votes) and not flipped(found.votes - 1)


def test_an_order_already_reversed_needs_nothing_and_an_unbreakable_one_says_so() -> None:
    comparisons = Comparisons.from_outcomes([O("x", "y", "model_a", 10), O("x", "y", "model_b", 2)])
    assert order_fragility(comparisons, "y", "x").votes == 0
    sweep = Comparisons.from_outcomes([O("x", "y", "model_a", 5)])  # 5-0: dropping votes can level them, never reverse them
    fragility = order_fragility(sweep, "x", "y")
    assert fragility.votes is None and fragility.share is None and fragility.refits >= 1


def test_top_fragility_takes_the_easiest_challenger() -> None:
    outcomes = [O("x", "y", "model_a", 30), O("x", "y", "model_b", 20), O("x", "z", "model_a", 60), O("x", "z", "model_b", 5),
                O("y", "z", "model_a", 40), O("y", "z", "model_b", 10)]
    comparisons = Comparisons.from_outcomes(outcomes)
    result = top_fragility(comparisons, ["x", "y", "z"])
    assert result is not None and result.leader == "x" and result.challenger == "y"
    assert result.votes == order_fragility(comparisons, "x", "y").votes
    assert top_fragility(comparisons, ["x"]) is None
