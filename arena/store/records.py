"""The values the store hands in and out besides table rows: outcome counts, imported battles, a vote conflict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from arena.domain import VoteFacts


class VoteConflict(Exception):
    """The battle already has a vote; *winner* is the one stored."""

    def __init__(self, winner: str) -> None:
        super().__init__(f"battle already voted: {winner}")
        self.winner = winner


@dataclass(frozen=True)
class OutcomeCount:
    """How often a (model_a, model_b, winner) outcome occurred."""

    model_a: str
    model_b: str
    winner: str
    count: int


@dataclass(frozen=True)
class BattleRecord:
    """A finished, voted battle from elsewhere (an import), ready to insert in bulk."""

    battle_id: str
    facts: VoteFacts
    judge_hash: str
    created_at: datetime
    conversation_a: list[dict]
    conversation_b: list[dict]
    time_to_vote_s: float = 0.0
    moderation_flag: bool = False
