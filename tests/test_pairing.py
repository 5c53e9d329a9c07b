"""Pairing statistics: weights, targets, no self-pairs, random sides, clear errors."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from arena.pairing import Candidate, PairingError, pair_weights, sample_pair

N = 20_000


def draw(candidates: list[Candidate], n: int = N, seed: int = 7) -> Counter:
    rng = random.Random(seed)
    return Counter(sample_pair(candidates, rng) for _ in range(n))


def test_never_the_same_model_twice() -> None:
    """A model never battles itself."""
    counts = draw([Candidate("a", 1), Candidate("b", 1), Candidate("c", 1)], 2000)
    assert all(x != y for x, y in counts)


def test_frequencies_match_the_rule() -> None:
    """Observed pair frequencies match pair_weights within sampling error."""
    candidates = [Candidate("a", 3), Candidate("b", 1), Candidate("c", 1), Candidate("d", 0.5, ("b",))]
    counts = draw(candidates)
    expected = pair_weights(candidates)
    assert abs(sum(expected.values()) - 1) < 1e-9
    for pair, p in expected.items():
        observed = (counts[pair] + counts[(pair[1], pair[0])]) / N
        sigma = (p * (1 - p) / N) ** 0.5
        assert abs(observed - p) < 5 * sigma, (pair, observed, p)


def test_heavier_model_plays_more() -> None:
    """A model with three times the weight appears in more battles."""
    counts = draw([Candidate("heavy", 3), Candidate("x", 1), Candidate("y", 1), Candidate("z", 1)])
    appearances = Counter(name for pair, n in counts.items() for name in pair for _ in range(n))
    assert appearances["heavy"] > 1.5 * appearances["x"]


def test_battle_targets_are_boosted() -> None:
    """A listed target meets its model more often than a non-target of equal weight."""
    candidates = [Candidate("star", 1, ("target",)), Candidate("target", 1), Candidate("other", 1), Candidate("more", 1)]
    probs = pair_weights(candidates)
    assert probs[("star", "target")] > 2 * probs[("other", "star")]
    counts = draw(candidates)
    together = counts[("star", "target")] + counts[("target", "star")]
    apart = counts[("star", "other")] + counts[("other", "star")]
    assert together > 2 * apart


def test_sides_are_swapped_at_random() -> None:
    """Each model lands on side A about half the time."""
    counts = draw([Candidate("a", 5), Candidate("b", 1)], 4000)
    share = counts[("a", "b")] / 4000
    assert 0.45 < share < 0.55


def test_zero_weight_models_never_play() -> None:
    """Weight 0 removes a model from pairing."""
    counts = draw([Candidate("a", 1), Candidate("b", 1), Candidate("off", 0)], 2000)
    assert not any("off" in pair for pair in counts)


@pytest.mark.parametrize(
    "candidates",
    [[], [Candidate("a", 1)], [Candidate("a", 0), Candidate("b", 0)], [Candidate("a", 1), Candidate("b", 0)]],
)
def test_empty_or_zero_weights_raise_a_clear_error(candidates: list[Candidate]) -> None:
    """Too few usable models raises PairingError that says what is wrong (FastChat #3294 crashed)."""
    with pytest.raises(PairingError, match="at least two available models"):
        sample_pair(candidates, random.Random(0))
