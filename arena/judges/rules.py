"""Rule judges: baselines that need no model (the longer answer wins; the answer with more markdown wins).

Why: an AI judge is only worth its cost if it agrees with people better
than these do. A judge whose leaderboard matches "longer wins" is measuring
length (``arena.judges.goodhart`` flags it). Pure and instant: no I/O.
"""

from __future__ import annotations

import re
from typing import Callable, Literal

from arena.judges.base import JudgeInput, JudgeKind, Reading
from arena.judges.verdicts import Verdict

Rule = Literal["longer", "markdown"]

_MARKDOWN = [
    re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE),  # headers
    re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE),  # list items
    re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),  # bold
    re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE),  # table rows
]
_FENCE = re.compile(r"^\s*(?:```|~~~)", re.MULTILINE)


def answer_length(text: str) -> float:
    """Characters of the answer, surrounding whitespace left out."""
    return float(len(text.strip()))


def markdown_count(text: str) -> float:
    """Headers, list items, bold spans, table rows and code blocks (a pair of fences is one block)."""
    count = sum(len(pattern.findall(text)) for pattern in _MARKDOWN)
    return float(count + (len(_FENCE.findall(text)) + 1) // 2)


MEASURES: dict[Rule, Callable[[str], float]] = {"longer": answer_length, "markdown": markdown_count}


def rule_verdict(first: float, second: float, tie_margin: float) -> Verdict:
    """The larger measure wins; equal measures, or a relative difference below *tie_margin*, are a tie."""
    larger = max(first, second)
    if first == second or abs(first - second) / larger < tie_margin:
        return "tie"
    return "a" if first > second else "b"


class RuleJudge:
    """A :class:`arena.judges.base.Judge` that applies one rule to the two answers."""

    kind: JudgeKind = "rule"

    def __init__(self, name: str, rule: Rule, *, tie_margin: float = 0.0) -> None:
        self.name = name
        self.rule = rule
        self.tie_margin = tie_margin
        self._measure = MEASURES[rule]

    async def read(self, item: JudgeInput) -> Reading:
        scores = (self._measure(item.first), self._measure(item.second))
        return Reading(verdict=rule_verdict(*scores, self.tie_margin), scores=scores)

    async def aclose(self) -> None:
        """Nothing to release."""
