"""The arena as a service: what any front end calls.

:class:`Arena` is a thin facade over parts the composition root
(:func:`arena.server.compose_arena`) builds and hands in: the battles in
progress (:mod:`arena.runtime`), starting one (:mod:`arena.battle_start`),
streaming its turns (:mod:`arena.turns`), the guards every battle, prompt,
answer and vote passes (:mod:`arena.guards`) and the votes
(:mod:`arena.votes`). Gradio is one caller; tests are another.
"""

from __future__ import annotations

from typing import AsyncIterator, Callable

from arena.battle import Battle, VoteReceipt
from arena.battle_start import BattleStarter
from arena.config import ModelCatalogue
from arena.domain import Mode, Winner
from arena.guards import GuardPipeline
from arena.pool import ModelPool
from arena.runtime import BattleRegistry, StoreUnavailable, UnknownBattle, battle_prompts_text
from arena.settings import Settings
from arena.store import Store
from arena.turns import UI_REFRESH_S, UI_UPDATES_PER_S, TurnRunner
from arena.votes import VOTE_WORDS, VoteService, already_voted, vote_facts

# Re-exported: the refusals a caller of the Arena catches, and the vote helpers that lived here first.
__all__ = [
    "VOTE_WORDS", "UI_REFRESH_S", "UI_UPDATES_PER_S", "Arena", "StoreUnavailable", "UnknownBattle",
    "already_voted", "battle_prompts_text", "vote_facts",
]


class Arena:
    """Battles, turns and votes over a model pool and a store: one object for a front end to hold."""

    def __init__(self, settings: Settings, pool: ModelPool, store: Store, *, guards: GuardPipeline, registry: BattleRegistry,
                 starter: BattleStarter, turns: TurnRunner, votes: VoteService) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store
        self.guards = guards
        self.registry = registry
        self.starter = starter
        self.turns = turns
        self.votes = votes

    def apply_catalogue(self, catalogue: ModelCatalogue) -> list[str]:
        """Use a new, validated models.yaml from now on (see :mod:`arena.reload`); returns new or changed models."""
        fresh = self.pool.reload(catalogue)
        self.starter.pairing.use(catalogue.pairing)
        self.guards.use_identity_terms(self.pool.identity_terms())
        return fresh

    def display_filter(self, battle: Battle | None) -> Callable[[str], str] | None:
        """How answers must be altered for display: configured identities hidden in an anonymous battle until the vote."""
        return self.guards.display_filter(battle)

    def judge_hash(self, client_identity: str) -> str:
        return self.store.hash_judge(client_identity, self.settings.judge_salt)

    async def start(self, mode: Mode, *, session_id: str, judge_hash: str, models: list[str] | None = None) -> Battle:
        """Create a battle: an anonymous pair drawn by weight, or the models the voter chose."""
        return await self.starter.start(mode, session_id=session_id, judge_hash=judge_hash, models=models)

    def get(self, battle_id: str, session_id: str) -> Battle:
        return self.registry.find(battle_id, session_id).battle

    def send(self, battle_id: str, prompt: str, session_id: str) -> AsyncIterator[Battle]:
        """Add a user turn and stream both answers; yields the battle as it changes."""
        return self.turns.send(battle_id, prompt, session_id)

    def regenerate(self, battle_id: str, session_id: str) -> AsyncIterator[Battle]:
        """Replace the last answers of both sides with new ones."""
        return self.turns.regenerate(battle_id, session_id)

    async def stop(self, battle_id: str, session_id: str) -> None:
        """Stop generation; partial answers are kept and marked as stopped."""
        await self.turns.stop(battle_id, session_id)

    async def vote(self, battle_id: str, winner: Winner, session_id: str) -> VoteReceipt:
        """Store the vote; acknowledged (returned) only after the transaction commits, and only as stored."""
        return await self.votes.vote(battle_id, winner, session_id)
