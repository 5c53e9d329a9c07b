"""The arena as a service: what any front end calls.

It ties the rules (:mod:`arena.battle`), the models (:mod:`arena.pool`) and the
store (:mod:`arena.store`) together: start a battle, stream a turn from both
sides at once, regenerate, stop, vote. Gradio is one caller; tests are another.
Battles in progress live in this process (Gradio's sessions are sticky), and
each keeps the specs and backends it started with, so reloading models.yaml
never changes a battle mid-way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable

from arena import metrics
from arena.backends import Backend, BackendError, GenerationStats, SamplingParams
from arena.battle import (
    Battle,
    Limits,
    RuleViolation,
    SideName,
    VoteReceipt,
)
from arena.config import ModelCatalogue, ModelSpec
from arena.domain import Mode, VoteFacts, Winner
from arena.language import detect_language
from arena.leak import LeakDetector
from arena.moderation import Verdict, battle_texts, build_moderator
from arena.pairing import PairingError, sample_pair
from arena.pool import ModelPool
from arena.ratelimit import build_rate_limiter
from arena.settings import Settings
from arena.store import Store, VoteConflict
from arena.text_stats import count_tokens, style_features

log = logging.getLogger(__name__)

UI_REFRESH_S = 0.1  # at most 10 screen updates per second per battle (smooth to read; each costs a Gradio round)...
UI_UPDATES_PER_S = 100  # ...and at most about this many per app process for all its streaming battles (then each slows down)
BATTLE_TTL_S = 6 * 3600
SETTLE_TIMEOUT_S = 30.0  # longest a vote or regenerate waits for the previous turn to be checked and stored


class UnknownBattle(RuleViolation):
    """No battle with this id in this process (expired, or never started)."""


class StoreUnavailable(RuleViolation):
    """The database refused a write; nothing was acknowledged."""


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
    # The vote's write, in a task of its own so that a cancelled handler cannot cut it short (see Arena.vote).
    voting: asyncio.Future | None = None

    @property
    def finished(self) -> bool:
        """Whether every side's generation has ended (answered, failed or stopped)."""
        return all(task.done() for task in self.tasks.values())


def _set(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


class Arena:
    """Battles, turns and votes over a model pool and a store."""

    def __init__(self, settings: Settings, pool: ModelPool, store: Store, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store
        self.limits = Limits(max_turns=settings.max_turns, max_prompt_chars=settings.max_prompt_chars)
        self.rng = rng
        self.leaks = LeakDetector(pool.identity_terms())
        self.masker = LeakDetector(pool.identity_terms(), well_known=False)
        self.limiter = build_rate_limiter(settings.redis_url, settings.rate_limit_on_redis_down)  # type: ignore[arg-type]
        self.moderator = build_moderator(settings.moderation, url=settings.moderation_url, model=settings.moderation_model,
                                         api_key=settings.moderation_api_key, patterns=settings.moderation_patterns)
        self._runtimes: dict[str, Runtime] = {}
        self._streaming = 0  # generations in progress (for the shared screen-update budget)
        metrics.track_active_battles(lambda: len(self._runtimes))

    def apply_catalogue(self, catalogue: ModelCatalogue) -> list[str]:
        """Use a new, validated models.yaml from now on (see :mod:`arena.reload`); returns new or changed models."""
        fresh = self.pool.reload(catalogue)
        self.leaks = LeakDetector(self.pool.identity_terms())
        self.masker = LeakDetector(self.pool.identity_terms(), well_known=False)
        return fresh

    def display_filter(self, battle: Battle | None) -> Callable[[str], str] | None:
        """How answers must be altered for display: configured identities hidden in an anonymous battle until the vote."""
        if battle is None or battle.mode != "anony" or battle.reveal() is not None:
            return None
        prompts = battle.user_prompts
        masker = self.masker
        return lambda text: masker.mask(text, prompts)

    # --- identities -------------------------------------------------------------
    def judge_hash(self, client_identity: str) -> str:
        return self.store.hash_judge(client_identity, self.settings.judge_salt)

    # --- lifecycle --------------------------------------------------------------
    async def start(self, mode: Mode, *, session_id: str, judge_hash: str, models: list[str] | None = None) -> Battle:
        """Create a battle: an anonymous pair drawn by weight, or the models the voter chose."""
        self._evict_old()
        if mode == "anony":
            try:
                chosen = list(sample_pair(self.pool.candidates(), self.rng))
            except PairingError as exc:
                raise RuleViolation(f"No battle is possible right now: {exc}") from None
        else:
            chosen = [m for m in (models or []) if m]
            needed = 1 if mode == "direct" else 2
            if len(chosen) != needed:
                raise RuleViolation("Choose a model first." if needed == 1 else "Choose two models first.")
            allowed = set(self.pool.named_choices())
            for name in chosen:
                if name not in allowed:
                    raise RuleViolation(f"Model {name!r} is not available right now; pick another.")
        if mode != "direct":
            await self._check_rate("battle", judge_hash, self.settings.battles_per_hour, "hour")
        battle = Battle.start(mode, chosen, session_id=session_id, judge_hash=judge_hash)
        specs: dict[SideName, ModelSpec] = {}
        backends: dict[SideName, Backend] = {}
        for side_name, side in battle.sides.items():
            spec = self.pool.spec(side.model)
            side.system_prompt = spec.system_prompt
            specs[side_name] = spec
            backends[side_name] = self.pool.backend(side.model)
        self._runtimes[battle.id] = Runtime(battle, specs, backends)
        metrics.BATTLES.labels(mode).inc()
        log.info("battle %s started (mode=%s)", battle.id, mode)
        return battle

    def get(self, battle_id: str, session_id: str) -> Battle:
        return self._runtime(battle_id, session_id).battle

    def _runtime(self, battle_id: str | None, session_id: str) -> Runtime:
        runtime = self._runtimes.get(battle_id or "")
        if runtime is None:
            raise UnknownBattle("This battle has expired or does not exist: press “New round”.")
        if runtime.battle.session_id != session_id:
            raise RuleViolation("This battle belongs to another session.")
        runtime.touched = time.monotonic()
        return runtime

    def _evict_old(self) -> None:
        horizon = time.monotonic() - BATTLE_TTL_S
        for battle_id in [k for k, r in self._runtimes.items() if r.touched < horizon and not r.tasks]:
            del self._runtimes[battle_id]

    # --- turns ------------------------------------------------------------------
    async def send(self, battle_id: str, prompt: str, session_id: str) -> AsyncIterator[Battle]:
        """Add a user turn and stream both answers; yields the battle as it changes."""
        runtime = self._runtime(battle_id, session_id)
        await self._check_rate("prompt", runtime.battle.judge_hash, self.settings.prompts_per_minute)
        battle = runtime.battle
        async with runtime.lock:
            await self._settled(runtime)
            battle.check_prompt(prompt, self.limits)
            verdict = await self._moderate(battle, prompt)
            if verdict.flagged:
                battle.moderated = True
                log.warning("battle %s: prompt flagged by moderation (%s)", battle.id, ", ".join(verdict.categories) or "unspecified")
                if battle.persisted:
                    await asyncio.to_thread(self.store.flag_moderation, battle.id)
                raise RuleViolation(
                    "Your message was flagged by content moderation and was not sent. This battle is closed: press “New round”."
                )
            battle.begin_turn(prompt, self.limits)
            runtime.settled.clear()
        # The battle is stored while the models start answering: the write stays off the first token's path.
        saving = None if battle.persisted else asyncio.create_task(asyncio.to_thread(self.store.save_start, battle))
        async for update in self._generate(runtime, regenerated=False, saving=saving):
            yield update

    async def regenerate(self, battle_id: str, session_id: str) -> AsyncIterator[Battle]:
        """Replace the last answers of both sides with new ones."""
        runtime = self._runtime(battle_id, session_id)
        await self._check_rate("prompt", runtime.battle.judge_hash, self.settings.prompts_per_minute)
        async with runtime.lock:
            await self._settled(runtime)
            runtime.battle.begin_regenerate()
            runtime.settled.clear()
        async for update in self._generate(runtime, regenerated=True):
            yield update

    async def _check_rate(self, what: str, judge_hash: str, limit: int, window: str = "minute") -> None:
        """Refuse the *what* (prompt, battle, vote) once the judge had *limit* of them in this *window*."""
        seconds = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}[window]
        if not await self.limiter.allow(f"{what}:{window}:{judge_hash}", limit, seconds):
            later = "please wait a moment" if window == "minute" else "please come back later"
            raise RuleViolation(f"Too many {what}s in one {window} (at most {limit}); {later}.")

    async def stop(self, battle_id: str, session_id: str) -> None:
        """Stop generation; partial answers are kept and marked as stopped."""
        runtime = self._runtime(battle_id, session_id)
        for task in runtime.tasks.values():
            task.cancel()

    @staticmethod
    def _unstart(battle: Battle) -> None:
        """Back to a battle that never started: its first turn could not be stored."""
        battle.turns = 0
        battle.ever_failed, battle.answers_finished_at = False, None
        for side in battle.sides.values():
            side.messages.clear()
            side.stats.clear()
            side.status = "idle"

    @staticmethod
    async def _settled(runtime: Runtime) -> None:
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

    @staticmethod
    async def _stop_sides(runtime: Runtime) -> None:
        """Cancel the sides still generating (a no-op for finished ones) and wait until they have wound up."""
        for task in runtime.tasks.values():
            task.cancel()
        await asyncio.gather(*runtime.tasks.values(), return_exceptions=True)
        runtime.tasks = {}

    async def _generate(self, runtime: Runtime, *, regenerated: bool, saving: asyncio.Task | None = None) -> AsyncIterator[Battle]:
        """Stream both sides; with *saving* (the battle's first write), nothing is shown or kept unless it succeeds."""
        battle = runtime.battle
        changed = asyncio.Event()

        async def run_side(name: SideName) -> None:
            spec, backend = runtime.specs[name], runtime.backends[name]
            side = battle.sides[name]
            history = side.messages[:-1]
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

        try:
            runtime.tasks = {name: asyncio.create_task(run_side(name)) for name in battle.sides}
            if saving is not None:
                await self._await_start_saved(runtime, saving)
            self._streaming += 1
            try:
                if not runtime.finished:  # answers all in while the start was stored: the wrapped-up turn comes next
                    yield battle  # the prompt's echo
                shown = 0.0  # the echo of the prompt above does not hold back the first token
                while True:
                    await changed.wait()
                    # At most ~10 UI updates per second, but never a delay on the first change after a quiet spell
                    # (the first token must reach the voter as soon as it exists).
                    wait = self.refresh_interval() - (time.monotonic() - shown)
                    if wait > 0 and not runtime.finished:
                        # ...and never a delay on the last: the finished answers end the wait.
                        await asyncio.wait(runtime.tasks.values(), timeout=wait)
                    if runtime.finished:
                        break  # the finished turn is shown once it is wrapped up, below
                    changed.clear()
                    shown = time.monotonic()
                    yield battle
            finally:
                self._streaming -= 1
                await self._wrap_up(runtime, regenerated)
        finally:
            runtime.settled.set()
        yield battle

    async def _wrap_up(self, runtime: Runtime, regenerated: bool) -> None:
        """End a turn: stop what still streams, check the answers for leaks and by moderation, store the turn."""
        battle = runtime.battle
        await self._stop_sides(runtime)  # stops the sides if our consumer went away
        self._check_leak(battle)
        verdict = await self._moderate(battle)
        if verdict.flagged:
            battle.moderated = True
            log.warning("battle %s: answers flagged by moderation (%s)", battle.id, ", ".join(verdict.categories) or "unspecified")
        try:
            await asyncio.to_thread(self._store_turn, battle, regenerated)
        except Exception as exc:
            log.error("could not store turn of battle %s: %r", battle.id, exc)

    async def _await_start_saved(self, runtime: Runtime, saving: asyncio.Task) -> None:
        """Wait for the battle's first write; if it failed, stop the sides, take the turn back and say why."""
        try:
            await asyncio.shield(saving)  # a cancelled consumer must not cut the write short
        except BaseException as exc:
            await self._stop_sides(runtime)
            if not isinstance(exc, Exception):
                raise  # cancelled: the consumer went away
            log.error("could not store battle %s: %r", runtime.battle.id, exc)
            self._unstart(runtime.battle)  # unstored, so this was its first turn
            raise StoreUnavailable("The arena's database is unavailable; please try again in a moment.") from None

    def _store_turn(self, battle: Battle, regenerated: bool) -> None:
        """Store the finished turn; then detect its language (cached) while the voter reads, not when they vote."""
        self.store.save_turn(battle, regenerated=regenerated)
        detect_language(battle_prompts_text(battle))

    async def _moderate(self, battle: Battle, prompt: str | None = None) -> Verdict:
        """Moderate *prompt* with both sides' whole history; an unreachable moderator lets the turn through (logged)."""
        texts = battle_texts((side.messages for side in battle.sides.values()), prompt)
        try:
            return await self.moderator.check(texts)
        except Exception as exc:
            log.warning("moderation unavailable, battle %s not checked: %r", battle.id, exc)
            return Verdict(False)

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

    def _store_vote(self, battle: Battle, winner: Winner, time_to_vote: float) -> None:
        """Measure the vote's facts and store it: one trip to a worker thread (under load each trip waits for one)."""
        self.store.record_vote(battle.id, vote_facts(battle, winner), battle.judge_hash, time_to_vote)

    def _check_leak(self, battle: Battle) -> None:
        if battle.mode != "anony":
            return
        answers = {name: side.last_answer for name, side in battle.sides.items()}
        findings = self.leaks.check(answers, battle.user_prompts)
        if findings:
            battle.flag_leak({f.term for f in findings})
            log.info("battle %s flagged: identity leak", battle.id)

    # --- votes ------------------------------------------------------------------
    async def vote(self, battle_id: str, winner: Winner, session_id: str) -> VoteReceipt:
        """Store the vote; acknowledged (returned) only after the transaction commits, and only as stored.

        The write runs in a task of its own, shielded like the battle's first
        write: a handler cancelled mid-vote (the voter's page sent Gradio's
        cancel) must not leave a committed vote the battle never learns of.
        A later click waits for that write, then meets the stored outcome.
        """
        runtime = self._runtime(battle_id, session_id)
        battle = runtime.battle
        async with runtime.lock:
            await self._settled(runtime)
            await self._vote_written(runtime)
            if battle.winner is not None and battle.session_id == session_id and battle.winner == winner:
                return battle.receipt()  # a retried click: same answer as the first time
            if battle.winner is not None and battle.session_id == session_id:
                raise RuleViolation(already_voted(battle.winner))
            battle.check_vote(winner, session_id)
            time_to_vote = time.monotonic() - (battle.answers_finished_at or time.monotonic())
            if time_to_vote < self.settings.min_vote_seconds:
                raise RuleViolation(
                    f"That was quick: please read both answers first (votes open {self.settings.min_vote_seconds:g} s "
                    "after the answers finish), then vote again."
                )
            await self._check_rate("vote", battle.judge_hash, self.settings.votes_per_minute)
            await self._check_rate("vote", battle.judge_hash, self.settings.votes_per_day, "day")
            runtime.voting = asyncio.ensure_future(self._write_vote(battle, winner, session_id, time_to_vote))
            receipt = await asyncio.shield(runtime.voting)
        metrics.VOTES.labels(winner).inc()
        log.info("battle %s voted", battle.id)
        return receipt

    @staticmethod
    async def _vote_written(runtime: Runtime) -> None:
        """Wait for a vote write that an earlier, cancelled click left running (its outcome is then the battle's)."""
        if runtime.voting is not None and not runtime.voting.done():
            await asyncio.wait([runtime.voting])

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
        except Exception as exc:
            log.error("vote on battle %s not stored: %r", battle.id, exc)
            raise StoreUnavailable("Your vote could not be saved (database unavailable). Please press the button again.") from None
        return battle.record_vote(winner, session_id)


VOTE_WORDS: dict[str, str] = {"model_a": "A is better", "model_b": "B is better", "tie": "Tie", "tie (bothbad)": "Both are bad"}


def already_voted(stored: str) -> str:
    """The refusal of a second, different vote: it names the outcome that is stored."""
    return f"You already voted in this battle: “{VOTE_WORDS.get(stored, stored)}” is stored. Press “New round”."


def battle_prompts_text(battle: Battle) -> str:
    """The voter's prompts as one text: what a battle's language is detected from."""
    return "\n".join(battle.user_prompts)


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
