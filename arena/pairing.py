"""Choosing the two anonymous models of a battle.

The first model is drawn in proportion to its ``weight``; the second in
proportion to its weight, multiplied by ``TARGET_BOOST`` when either model
lists the other in ``battle_targets``. A model never meets itself, and the
sides are swapped at random so that position says nothing about identity.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

TARGET_BOOST = 4.0


class PairingError(Exception):
    """No valid pair can be drawn; the message says why, for admins and voters alike."""


@dataclass(frozen=True)
class Candidate:
    name: str
    weight: float
    battle_targets: tuple[str, ...] = ()


def pair_weights(candidates: Sequence[Candidate]) -> dict[tuple[str, str], float]:
    """Probability of each unordered pair (sorted names) under the sampling rule."""
    usable = _usable(candidates)
    total = sum(c.weight for c in usable)
    probs: dict[tuple[str, str], float] = {}
    for first in usable:
        p_first = first.weight / total
        second_weights = {c.name: _second_weight(first, c) for c in usable if c.name != first.name}
        norm = sum(second_weights.values())
        for name, w in second_weights.items():
            low, high = sorted((first.name, name))
            probs[low, high] = probs.get((low, high), 0.0) + p_first * w / norm
    return probs


def sample_pair(candidates: Sequence[Candidate], rng: random.Random | None = None) -> tuple[str, str]:
    """Draw (model_a, model_b) for an anonymous battle."""
    rng = rng or random.SystemRandom()
    usable = _usable(candidates)
    first = rng.choices(usable, weights=[c.weight for c in usable])[0]
    others = [c for c in usable if c.name != first.name]
    second = rng.choices(others, weights=[_second_weight(first, c) for c in others])[0]
    pair = (first.name, second.name)
    return pair if rng.random() < 0.5 else (pair[1], pair[0])


def _second_weight(first: Candidate, other: Candidate) -> float:
    boosted = other.name in first.battle_targets or first.name in other.battle_targets
    return other.weight * (TARGET_BOOST if boosted else 1.0)


def _usable(candidates: Sequence[Candidate]) -> list[Candidate]:
    usable = [c for c in candidates if c.weight > 0]
    if len(usable) < 2:
        listed = ", ".join(f"{c.name} (weight {c.weight:g})" for c in candidates) or "none"
        raise PairingError(
            "an anonymous battle needs at least two available models with weight > 0; "
            f"available now: {listed}. Fix: enable models or set their endpoints in models.yaml."
        )
    return usable
