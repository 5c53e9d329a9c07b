"""Turns of a battle: both sides streamed at once, stopped, regenerated, then settled and stored.

A turn starts under the battle's lock (the rules and the guards are checked
there), streams both sides as asyncio tasks, and is *settled* when they end:
the answers pass the leak check and moderation (:mod:`arena.guards`) and the
turn is stored, before anything (a vote, a regenerate, the next prompt) may
act on it. Screen updates are rationed (:meth:`TurnRunner.refresh_interval`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator

from arena import metrics
from arena.backends import BackendError, GenerationStats, SamplingParams
from arena.battle import Battle, Limits, RuleViolation, SideName
from arena.guards import GuardPipeline
from arena.language import detect_language
from arena.runtime import BattleRegistry, Runtime, StoreUnavailable, battle_prompts_text, wait_settled
from arena.store import Store

log = logging.getLogger(__name__)

UI_REFRESH_S = 0.1  # at most 10 screen updates per second per battle (smooth to read; each costs a Gradio round)...
UI_UPDATES_PER_S = 100  # ...and at most about this many per app process for all its streaming battles (then each slows down)


class TurnRunner:
    """Sends prompts, regenerates and stops the battles of a :class:`BattleRegistry`, storing every turn."""

    def __init__(self, store: Store, guards: GuardPipeline, registry: BattleRegistry, limits: Limits) -> None:
        self.store = store
        self.guards = guards
        self.registry = registry
        self.limits = limits
        self._streaming = 0  # generations in progress (for the shared screen-update budget)

    # --- what a front end asks for ------------------------------------------------
    async def send(self, battle_id: str, prompt: str, session_id: str) -> AsyncIterator[Battle]:
        """Add a user turn and stream both answers; yields the battle as it changes."""
        runtime = self.registry.find(battle_id, session_id)
        await self.guards.admit_prompt(runtime.battle.judge_hash)
        battle = runtime.battle
        async with runtime.lock:
            await wait_settled(runtime)
            battle.check_prompt(prompt, self.limits)
            await self._refuse_flagged_prompt(battle, prompt)
            battle.begin_turn(prompt, self.limits)
            runtime.settled.clear()
        # The battle is stored while the models start answering: the write stays off the first token's path.
        saving = None if battle.persisted else asyncio.create_task(asyncio.to_thread(self.store.save_start, battle))
        async for update in self._generate(runtime, regenerated=False, saving=saving):
            yield update

    async def regenerate(self, battle_id: str, session_id: str) -> AsyncIterator[Battle]:
        """Replace the last answers of both sides with new ones."""
        runtime = self.registry.find(battle_id, session_id)
        await self.guards.admit_prompt(runtime.battle.judge_hash)
        async with runtime.lock:
            await wait_settled(runtime)
            runtime.battle.begin_regenerate()
            runtime.settled.clear()
        async for update in self._generate(runtime, regenerated=True):
            yield update

    async def stop(self, battle_id: str, session_id: str) -> None:
        """Stop generation; partial answers are kept and marked as stopped."""
        runtime = self.registry.find(battle_id, session_id)
        for task in runtime.tasks.values():
            task.cancel()

    def refresh_interval(self) -> float:
        """Seconds between screen updates of one streaming battle.

        Why: every update is a full round through Gradio (diff, JSON, event
        stream), and under load those rounds, not the models, use the CPU. The
        total rate is held near ``UI_UPDATES_PER_S``: with many battles
        streaming, each refreshes less often (text arrives in bigger pieces),
        and votes and first tokens keep their latency. A first token is never
        held back (see ``_generate``).
        """
        return max(UI_REFRESH_S, self._streaming / UI_UPDATES_PER_S)

    # --- starting a turn ------------------------------------------------------------
    async def _refuse_flagged_prompt(self, battle: Battle, prompt: str) -> None:
        """Moderate the prompt before any model sees it; a flagged one closes the battle (stored if it is)."""
        verdict = await self.guards.moderate(battle, prompt)
        if not verdict.flagged:
            return
        battle.moderated = True
        log.warning("battle %s: prompt flagged by moderation (%s)", battle.id, ", ".join(verdict.categories) or "unspecified")
        if battle.persisted:
            await asyncio.to_thread(self.store.flag_moderation, battle.id)
        raise RuleViolation(
            "Your message was flagged by content moderation and was not sent. This battle is closed: press “New round”."
        )

    async def _await_start_saved(self, runtime: Runtime, saving: asyncio.Task) -> None:
        """Wait for the battle's first write; if it failed, stop the sides, take the turn back and say why."""
        try:
            await asyncio.shield(saving)  # a cancelled consumer must not cut the write short
        except BaseException as exc:
            await _stop_sides(runtime)
            if not isinstance(exc, Exception):
                raise  # cancelled: the consumer went away
            log.error("could not store battle %s: %r", runtime.battle.id, exc)
            _unstart(runtime.battle)  # unstored, so this was its first turn
            raise StoreUnavailable("The arena's database is unavailable; please try again in a moment.") from None

    # --- streaming --------------------------------------------------------------------
    async def _generate(self, runtime: Runtime, *, regenerated: bool, saving: asyncio.Task | None = None) -> AsyncIterator[Battle]:
        """Stream both sides; with *saving* (the battle's first write), nothing is shown or kept unless it succeeds."""
        battle = runtime.battle
        changed = asyncio.Event()
        try:
            runtime.tasks = {name: asyncio.create_task(self._run_side(runtime, name, changed)) for name in battle.sides}
            if saving is not None:
                await self._await_start_saved(runtime, saving)
            self._streaming += 1
            try:
                if not runtime.finished:  # answers all in while the start was stored: the wrapped-up turn comes next
                    yield battle  # the prompt's echo
                shown = 0.0  # the echo of the prompt above does not hold back the first token
                while await self._next_update_due(runtime, changed, shown):
                    changed.clear()
                    shown = time.monotonic()
                    yield battle
            finally:
                self._streaming -= 1
                await self._wrap_up(runtime, regenerated)
        finally:
            runtime.settled.set()
        yield battle  # the finished turn, shown once it is wrapped up

    async def _next_update_due(self, runtime: Runtime, changed: asyncio.Event, shown: float) -> bool:
        """Wait until the next screen update is due; False once every side has finished instead.

        At most ~10 UI updates per second, but never a delay on the first change
        after a quiet spell (the first token must reach the voter as soon as it
        exists), and never a delay on the last: the finished answers end the wait.
        """
        await changed.wait()
        wait = self.refresh_interval() - (time.monotonic() - shown)
        if wait > 0 and not runtime.finished:
            await asyncio.wait(runtime.tasks.values(), timeout=wait)
        return not runtime.finished

    @staticmethod
    async def _run_side(runtime: Runtime, name: SideName, changed: asyncio.Event) -> None:
        """Stream one side's answer into the battle; a failure or a stop ends only this side."""
        battle = runtime.battle
        spec, backend = runtime.specs[name], runtime.backends[name]
        history = battle.sides[name].messages[:-1]
        if spec.system_prompt:
            history = [{"role": "system", "content": spec.system_prompt}, *history]
        params = SamplingParams(spec.temperature, spec.top_p, spec.max_tokens)
        stats = GenerationStats()
        error_kind = None
        metrics.GENERATIONS_IN_FLIGHT.labels(spec.name).inc()
        try:
            # No await in this loop body but the stream's own: backends rely on it for their timeouts.
            async for chunk in backend.stream(history, params, stats):
                battle.append(name, chunk)
                changed.set()
            battle.finish_side(name, stats)
        except asyncio.CancelledError:
            battle.finish_side(name, stats, stopped=True)
        except BackendError as exc:
            log.warning("battle %s side %s failed: %s", battle.id, name, exc.kind)
            error_kind = exc.kind
            battle.fail_side(name, exc.kind, exc.detail, stats)
        except Exception as exc:  # a bug in a backend must not take the battle's other side down
            log.exception("battle %s side %s crashed", battle.id, name)
            error_kind = "internal"
            battle.fail_side(name, "internal", repr(exc), stats)
        finally:
            metrics.GENERATIONS_IN_FLIGHT.labels(spec.name).dec()
            metrics.observe_generation(spec.name, stats, error_kind=error_kind)
            changed.set()

    # --- settling a turn ------------------------------------------------------------------
    async def _wrap_up(self, runtime: Runtime, regenerated: bool) -> None:
        """End a turn: stop what still streams, check the answers for leaks and by moderation, store the turn."""
        battle = runtime.battle
        await _stop_sides(runtime)  # stops the sides if our consumer went away
        await self.guards.screen_answers(battle)
        try:
            await asyncio.to_thread(self._store_turn, battle, regenerated)
        except Exception as exc:  # noqa: BLE001 - a turn that cannot be stored is logged; the answers already shown stay
            log.error("could not store turn of battle %s: %r", battle.id, exc)

    def _store_turn(self, battle: Battle, regenerated: bool) -> None:
        """Store the finished turn; then detect its language (cached) while the voter reads, not when they vote."""
        self.store.save_turn(battle, regenerated=regenerated)
        detect_language(battle_prompts_text(battle))


async def _stop_sides(runtime: Runtime) -> None:
    """Cancel the sides still generating (a no-op for finished ones) and wait until they have wound up."""
    for task in runtime.tasks.values():
        task.cancel()
    await asyncio.gather(*runtime.tasks.values(), return_exceptions=True)
    runtime.tasks = {}


def _unstart(battle: Battle) -> None:
    """Back to a battle that never started: its first turn could not be stored."""
    battle.turns = 0
    battle.ever_failed, battle.answers_finished_at = False, None
    for side in battle.sides.values():
        side.messages.clear()
        side.stats.clear()
        side.status = "idle"
