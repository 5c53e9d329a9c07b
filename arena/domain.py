"""The arena's shared vocabulary: battle modes, vote outcomes and the facts a vote carries.

A leaf module: it imports nothing of the project (and nothing outside the
standard library), so the battle rules, the categories, the ratings, the store
and the export can all share these types without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["anony", "named", "direct"]
Winner = Literal["model_a", "model_b", "tie", "tie (bothbad)"]

WINNERS: tuple[Winner, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")
# Model A's score for each outcome: a tie (either kind) is half a win for each side.
OUTCOME_SCORE: dict[str, float] = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


@dataclass(frozen=True)
class VoteFacts:
    """What a vote needs to be rated and categorised, frozen at vote time."""

    model_a: str
    model_b: str
    winner: str
    mode: str
    leak_flag: bool = False
    error_flag: bool = False
    turns: int = 1
    user_tokens: int = 0
    language: str | None = None
    style_a: tuple[int, int, int, int] = (0, 0, 0, 0)  # length, headers, list items, bold
    style_b: tuple[int, int, int, int] = (0, 0, 0, 0)


__all__ = ["Mode", "OUTCOME_SCORE", "VoteFacts", "WINNERS", "Winner"]
