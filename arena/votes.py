"""Votes: checked, written in a shielded task, acknowledged only as stored.

A vote is acknowledged (a :class:`~arena.battle.VoteReceipt` returned) only
after its transaction commits, and only with the outcome the database holds:
a click cancelled mid-write, a retried click and a conflicting second click
all end with the battle, the receipt and the store agreeing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from arena import metrics
from arena.battle import Battle, RuleViolation, VoteReceipt
from arena.domain import VoteFacts, Winner
from arena.guards import GuardPipeline
from arena.language import detect_language
from arena.runtime import BattleRegistry, Runtime, StoreUnavailable, battle_prompts_text, wait_settled
from arena.store import Store, VoteConflict
from arena.text_stats import count_tokens, style_features

log = logging.getLogger(__name__)

VOTE_WORDS: dict[str, str] = {"model_a": "A is better", "model_b": "B is better", "tie": "Tie", "tie (bothbad)": "Both are bad"}


class VoteService:
    """Votes on the battles of a :class:`BattleRegistry`, stored in a :class:`Store`."""

    def __init__(self, store: Store, guards: GuardPipeline, registry: BattleRegistry, *, min_vote_seconds: float) -> None:
        self.store = store
        self.guards = guards
        self.registry = registry
        self.min_vote_seconds = min_vote_seconds

    async def vote(self, battle_id: str, winner: Winner, session_id: str) -> VoteReceipt:
        """Store the vote; acknowledged (returned) only after the transaction commits, and only as stored.

        The write runs in a task of its own, shielded like the battle's first
        write: a handler cancelled mid-vote (the voter's page sent Gradio's
        cancel) must not leave a committed vote the battle never learns of.
        A later click waits for that write, then meets the stored outcome.
        """
        runtime = self.registry.find(battle_id, session_id)
        battle = runtime.battle
        async with runtime.lock:
            await wait_settled(runtime)
            await _vote_written(runtime)
            if battle.winner is not None and battle.session_id == session_id and battle.winner == winner:
                return battle.receipt()  # a retried click: same answer as the first time
            if battle.winner is not None and battle.session_id == session_id:
                raise RuleViolation(already_voted(battle.winner))
            battle.check_vote(winner, session_id)
            time_to_vote = self._time_to_vote(battle)
            await self.guards.admit_vote(battle.judge_hash)
            runtime.voting = asyncio.ensure_future(self._write_vote(battle, winner, session_id, time_to_vote))
            receipt = await asyncio.shield(runtime.voting)
        metrics.VOTES.labels(winner).inc()
        log.info("battle %s voted", battle.id)
        return receipt

    def _time_to_vote(self, battle: Battle) -> float:
        """Seconds since the answers finished; refuses a vote cast before both could be read."""
        time_to_vote = time.monotonic() - (battle.answers_finished_at or time.monotonic())
        if time_to_vote < self.min_vote_seconds:
            raise RuleViolation(
                f"That was quick: please read both answers first (votes open {self.min_vote_seconds:g} s "
                "after the answers finish), then vote again."
            )
        return time_to_vote

    async def _write_vote(self, battle: Battle, winner: Winner, session_id: str, time_to_vote: float) -> VoteReceipt:
        """Commit the vote, then record it in the battle; a conflict is acknowledged only if the stored outcome is *winner*."""
        try:
            await asyncio.to_thread(self._store_vote, battle, winner, time_to_vote)
        except VoteConflict as conflict:
            stored: Winner = conflict.winner  # type: ignore[assignment]
            battle.record_vote(stored, session_id)
            if stored != winner:
                log.warning("battle %s: vote %s refused, %s was stored first", battle.id, winner, stored)
                raise RuleViolation(already_voted(stored)) from None
            return battle.receipt()
        except Exception as exc:  # noqa: BLE001 - any store failure becomes StoreUnavailable for the voter (logged)
            log.error("vote on battle %s not stored: %r", battle.id, exc)
            raise StoreUnavailable("Your vote could not be saved (database unavailable). Please press the button again.") from None
        return battle.record_vote(winner, session_id)

    def _store_vote(self, battle: Battle, winner: Winner, time_to_vote: float) -> None:
        """Measure the vote's facts and store it: one trip to a worker thread (under load each trip waits for one)."""
        self.store.record_vote(battle.id, vote_facts(battle, winner), battle.judge_hash, time_to_vote)


async def _vote_written(runtime: Runtime) -> None:
    """Wait for a vote write that an earlier, cancelled click left running (its outcome is then the battle's)."""
    if runtime.voting is not None and not runtime.voting.done():
        await asyncio.wait([runtime.voting])


def already_voted(stored: str) -> str:
    """The refusal of a second, different vote: it names the outcome that is stored."""
    return f"You already voted in this battle: “{VOTE_WORDS.get(stored, stored)}” is stored. Press “New round”."


def vote_facts(battle: Battle, winner: str) -> VoteFacts:
    """The facts a vote is rated and categorised by, measured once at vote time."""
    prompts = battle.user_prompts
    styles = {
        name: style_features(m["content"] for m in side.messages if m["role"] == "assistant").as_tuple()
        for name, side in battle.sides.items()
    }
    return VoteFacts(
        model_a=battle.sides["a"].model,
        model_b=battle.sides["b"].model,
        winner=winner,
        mode=battle.mode,
        leak_flag=battle.leaked,
        error_flag=battle.ever_failed,
        turns=battle.turns,
        user_tokens=sum(count_tokens(p) for p in prompts),
        language=detect_language(battle_prompts_text(battle)),
        style_a=styles["a"],
        style_b=styles["b"],
    )
