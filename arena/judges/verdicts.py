"""One AI judge's verdict on one battle, from its two readings: answers shown as (A, B) and as (B, A).

A judge that favours whichever answer it reads first (or second) would
otherwise pass its position bias off as a preference. Each battle is therefore
judged in both orders and the two verdicts are combined here:

* both orders agree: that verdict, *consistent*;
* the two orders pick opposite sides: ``"tie"``, *inconsistent* (the choice
  followed the position, not the answer);
* one order says tie and the other picks a side: ``"tie"``, *inconsistent*
  (the preference did not survive the swap, so it is not counted as one);
* either order gave no usable verdict: *invalid* (no verdict, no consistency),
  so a judge's unparsable output is counted apart instead of as a tie.

Verdicts always name the original sides: ``"a"`` is model_a's answer whichever
order it was shown in, so the swapped reading must be mapped back before it
comes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["a", "b", "tie"]
VERDICTS: tuple[Verdict, ...] = ("a", "b", "tie")

# The human vote's winner in the judges' vocabulary: both kinds of tie are a tie.
_HUMAN_VERDICT: dict[str, Verdict] = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "tie"}


@dataclass(frozen=True)
class JudgedVerdict:
    """The combined verdict: *verdict* and *consistent* are None exactly when *invalid_reason* says why."""

    verdict: Verdict | None
    consistent: bool | None
    invalid_reason: str | None = None

    def __post_init__(self) -> None:
        if (self.verdict is None) != (self.invalid_reason is not None) or (self.verdict is None) != (self.consistent is None):
            raise ValueError("a verdict and its consistency are given together, or neither with a reason for invalidity")
        if self.verdict is not None and self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; expected one of {VERDICTS}")

    @property
    def valid(self) -> bool:
        return self.verdict is not None

    @classmethod
    def invalid(cls, reason: str) -> JudgedVerdict:
        """A battle the judge could not be counted on (e.g. output that named no winner)."""
        return cls(None, None, reason)


def combine_orders(first: Verdict | None, swapped: Verdict | None) -> JudgedVerdict:
    """The battle's verdict from the reading in order (A, B) and the one in order (B, A), mapped back to A and B."""
    if first is None or swapped is None:
        missing = "either order" if first is None and swapped is None else ("the first order" if first is None else "the swapped order")
        return JudgedVerdict.invalid(f"no verdict in {missing}")
    for verdict in (first, swapped):
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}; expected one of {VERDICTS}")
    if first == swapped:
        return JudgedVerdict(first, True)
    return JudgedVerdict("tie", False)


def human_verdict(winner: str) -> Verdict:
    """A stored vote's winner (``arena.domain.WINNERS``) as a verdict: ``"tie (bothbad)"`` is a tie."""
    try:
        return _HUMAN_VERDICT[winner]
    except KeyError:
        raise ValueError(f"unknown winner {winner!r}; expected one of {tuple(_HUMAN_VERDICT)}") from None


__all__ = ["JudgedVerdict", "VERDICTS", "Verdict", "combine_orders", "human_verdict"]
