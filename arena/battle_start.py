"""Starting a battle: which models it gets, whether the judge may start one, and what it keeps while it runs.

Each battle takes its models' specs and backends from the pool when it starts
(:class:`~arena.runtime.Runtime`), so reloading models.yaml never changes a
battle mid-way.
"""

from __future__ import annotations

import logging
import random

from arena import metrics
from arena.backends import Backend
from arena.battle import Battle, RuleViolation, SideName
from arena.config import ModelSpec
from arena.domain import Mode
from arena.guards import GuardPipeline
from arena.pair_policy import PairPolicy
from arena.pairing import PairingError
from arena.pool import ModelPool
from arena.runtime import BattleRegistry, Runtime

log = logging.getLogger(__name__)


class BattleStarter:
    """Creates battles over a model pool and keeps them in a :class:`BattleRegistry`."""

    def __init__(self, pool: ModelPool, guards: GuardPipeline, registry: BattleRegistry, *, rng: random.Random | None = None,
                 pairing: PairPolicy | None = None) -> None:
        self.pool = pool
        self.guards = guards
        self.registry = registry
        self.rng = rng
        self.pairing = pairing or PairPolicy(pool.catalogue.pairing)

    async def start(self, mode: Mode, *, session_id: str, judge_hash: str, models: list[str] | None = None) -> Battle:
        """Create a battle: an anonymous pair drawn by the pairing policy, or the models the voter chose."""
        self.registry.evict_old()
        chosen = self._models_for(mode, models)
        if mode != "direct":
            await self.guards.admit_battle(judge_hash)
        battle = Battle.start(mode, chosen, session_id=session_id, judge_hash=judge_hash)
        specs: dict[SideName, ModelSpec] = {}
        backends: dict[SideName, Backend] = {}
        for side_name, side in battle.sides.items():
            spec = self.pool.spec(side.model)
            side.system_prompt = spec.system_prompt
            specs[side_name] = spec
            backends[side_name] = self.pool.backend(side.model)
        self.registry.add(Runtime(battle, specs, backends))
        metrics.BATTLES.labels(mode).inc()
        log.info("battle %s started (mode=%s)", battle.id, mode)
        return battle

    def _models_for(self, mode: Mode, models: list[str] | None) -> list[str]:
        """A drawn pair for an anonymous battle; otherwise the voter's choice, checked against the available models."""
        if mode == "anony":
            try:
                return list(self.pairing.draw(self.pool.candidates(), self.rng))
            except PairingError as exc:
                raise RuleViolation(f"No battle is possible right now: {exc}") from None
        chosen = [m for m in (models or []) if m]
        needed = 1 if mode == "direct" else 2
        if len(chosen) != needed:
            raise RuleViolation("Choose a model first." if needed == 1 else "Choose two models first.")
        allowed = set(self.pool.named_choices())
        for name in chosen:
            if name not in allowed:
                raise RuleViolation(f"Model {name!r} is not available right now; pick another.")
        return chosen
