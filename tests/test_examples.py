"""Example prompts offered by the UI."""

from __future__ import annotations

import random

from arena.examples import EXAMPLE_PROMPTS, example_prompt
from arena.settings import Settings


def test_examples_are_distinct_and_within_the_default_prompt_limit() -> None:
    assert len(set(EXAMPLE_PROMPTS)) == len(EXAMPLE_PROMPTS) >= 10
    limit = Settings().max_prompt_chars
    assert all(0 < len(p) <= limit for p in EXAMPLE_PROMPTS)


def test_example_prompt_never_repeats_the_one_on_screen() -> None:
    rng = random.Random(7)
    current = None
    seen = set()
    for _ in range(200):
        nxt = example_prompt(rng, avoid=current)
        assert nxt != current and nxt in EXAMPLE_PROMPTS
        seen.add(nxt)
        current = nxt
    assert len(seen) > len(EXAMPLE_PROMPTS) // 2  # it really is random, not a fixed pick
