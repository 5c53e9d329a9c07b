"""Battles in progress in this process: each with its own specs, backends, lock and tasks.

The turn runner (:mod:`arena.turns`) and the vote service (:mod:`arena.votes`)
share one :class:`BattleRegistry`; both look a battle up by id *and* session,
so a session can only ever act on its own battles. Gradio's sessions are
sticky, so a battle never needs to leave the process that started it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from arena import metrics
from arena.backends import Backend
from arena.battle import Battle, RuleViolation, SideName
from arena.config import ModelSpec

log = logging.getLogger(__name__)

BATTLE_TTL_S = 6 * 3600
SETTLE_TIMEOUT_S = 30.0  # longest a vote or regenerate waits for the previous turn to be checked and stored


class UnknownBattle(RuleViolation):
    """No battle with this id in this process (expired, or never started)."""


class StoreUnavailable(RuleViolation):
    """The database refused a write; nothing was acknowledged."""


def _set(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


@dataclass
class Runtime:
    """A battle plus what it needs while it runs: its own specs, backends and tasks."""

    battle: Battle
    specs: dict[SideName, ModelSpec]
    backends: dict[SideName, Backend]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tasks: dict[SideName, asyncio.Task] = field(default_factory=dict)
    touched: float = field(default_factory=time.monotonic)
    # Clear from a turn's start until it is wrapped up (leak check, moderation, stored): the answers
    # may all be in before that, and nothing may act on the turn (vote, regenerate, send) in between.
    settled: asyncio.Event = field(default_factory=lambda: _set(asyncio.Event()))
    # The vote's write, in a task of its own so that a cancelled handler cannot cut it short (see VoteService.vote).
    voting: asyncio.Future | None = None

    @property
    def finished(self) -> bool:
        """Whether every side's generation has ended (answered, failed or stopped)."""
        return all(task.done() for task in self.tasks.values())


class BattleRegistry:
    """The battles of this process by id; idle ones are forgotten after :data:`BATTLE_TTL_S`."""

    def __init__(self) -> None:
        self._runtimes: dict[str, Runtime] = {}
        metrics.track_active_battles(lambda: len(self._runtimes))

    def add(self, runtime: Runtime) -> None:
        self._runtimes[runtime.battle.id] = runtime

    def find(self, battle_id: str | None, session_id: str) -> Runtime:
        """The session's battle *battle_id*; refuses an unknown battle or another session's."""
        runtime = self._runtimes.get(battle_id or "")
        if runtime is None:
            raise UnknownBattle("This battle has expired or does not exist: press “New round”.")
        if runtime.battle.session_id != session_id:
            raise RuleViolation("This battle belongs to another session.")
        runtime.touched = time.monotonic()
        return runtime

    def evict_old(self) -> None:
        """Forget battles untouched for :data:`BATTLE_TTL_S` with nothing running."""
        horizon = time.monotonic() - BATTLE_TTL_S
        for battle_id in [k for k, r in self._runtimes.items() if r.touched < horizon and not r.tasks]:
            del self._runtimes[battle_id]

    def __len__(self) -> int:
        return len(self._runtimes)


async def wait_settled(runtime: Runtime) -> None:
    """Wait for the last turn's wrap-up if its answers are in but it is not yet checked and stored.

    Why: a vote or a regenerate in that moment would act on a turn that may
    still be flagged (a leak, moderation) or that is not in the database yet.
    While the answers stream, the rules refuse at once instead.
    """
    if runtime.battle.state != "generating" and not runtime.settled.is_set():
        try:
            await asyncio.wait_for(runtime.settled.wait(), SETTLE_TIMEOUT_S)
        except TimeoutError:
            log.warning("battle %s: the last turn was not wrapped up in %g s; going on", runtime.battle.id, SETTLE_TIMEOUT_S)


def battle_prompts_text(battle: Battle) -> str:
    """The voter's prompts as one text: what a battle's language is detected from."""
    return "\n".join(battle.user_prompts)
