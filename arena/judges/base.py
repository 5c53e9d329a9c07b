"""What every judge kind answers, and what the judging worker stores: the contract between the two.

A judge reads one battle's last exchange (the conversation so far, then
each side's final answer) in one order and gives a :class:`Reading`. The
worker asks for both orders and combines them with
:func:`arena.judges.verdicts.combine_orders`; a judge never sees which model
wrote which answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from arena.judges.verdicts import Verdict

JudgeKind = Literal["llm", "reward", "rule"]
Message = dict[str, str]


@dataclass(frozen=True)
class JudgeInput:
    """One reading's input: the shared conversation up to the last user turn, and the two answers in reading order."""

    conversation: list[Message]
    first: str
    second: str


@dataclass(frozen=True)
class Reading:
    """One reading's outcome. *verdict* names the reading order (``"a"`` = *first*); None with *invalid_reason* when unusable.

    *scores* are a reward model's (or a rule's) scores of (first, second) where it gives them; *rationale* is an
    LLM judge's short reason; *latency_s* is the time the reading took. *unavailable* marks a reading that
    never reached the judge: the battle is stored as an ``error`` and judged again later, so an outage does not
    count against the judge's invalid rate (a time-out does: the judge was asked and gave nothing in time).
    """

    verdict: Verdict | None
    rationale: str = ""
    scores: tuple[float, float] | None = None
    invalid_reason: str | None = None
    latency_s: float = 0.0
    unavailable: bool = False  # the judge could not be reached (HTTP error, refused connection): retried later, not its answer


class Judge(Protocol):
    """A judge as the worker uses it: a name, a kind, and one reading at a time (it may run several concurrently)."""

    name: str
    kind: JudgeKind

    async def read(self, item: JudgeInput) -> Reading: ...

    async def aclose(self) -> None: ...


_SWAP: dict[Verdict, Verdict] = {"a": "b", "b": "a", "tie": "tie"}


def swapped(verdict: Verdict | None) -> Verdict | None:
    """A verdict given in the (B, A) reading, in the original sides' names."""
    return None if verdict is None else _SWAP[verdict]
