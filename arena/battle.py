"""A battle (or a direct chat) as a plain state machine: the arena's rules.

No Gradio, no SQL, no HTTP here. A battle holds the hidden models, the shared
user turns and each side's transcript, and refuses what the rules forbid:
no prompt while answers stream, no vote before both answers finish or after a
failure, one vote per battle, no vote from another session. Names are exposed
only through :meth:`Battle.reveal`, which answers only after the vote (or for
named modes, where the voter chose the models).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

from arena.backends.base import PUBLIC_ERROR_TEXT, GenerationStats, Message
from arena.domain import WINNERS, Mode, Winner  # shared vocabulary; still importable from here
from arena.prompts import clean_text

SideName = Literal["a", "b"]
SideStatus = Literal["idle", "generating", "done", "stopped", "error"]
FLAGGED_TEXT = "This battle was flagged by content moderation, so it cannot continue or be voted on: press “New round”."
State = Literal["ready", "generating", "awaiting_vote", "failed", "flagged", "voted", "chatting"]


class RuleViolation(Exception):
    """An action the rules refuse; the message is shown to the voter as is."""


@dataclass(frozen=True)
class Limits:
    max_turns: int = 8
    max_prompt_chars: int = 4000


@dataclass
class Side:
    """One pane: a model (hidden in anonymous mode) and its transcript."""

    model: str
    system_prompt: str | None = None
    conversation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    messages: list[Message] = field(default_factory=list)
    status: SideStatus = "idle"
    error_kind: str | None = None
    error_detail: str | None = None
    stats: list[GenerationStats] = field(default_factory=list)

    @property
    def last_answer(self) -> str:
        if self.messages and self.messages[-1]["role"] == "assistant":
            return self.messages[-1]["content"]
        return ""

    @property
    def public_error(self) -> str | None:
        if self.status != "error":
            return None
        return PUBLIC_ERROR_TEXT.get(self.error_kind or "internal", PUBLIC_ERROR_TEXT["internal"])


@dataclass(frozen=True)
class VoteReceipt:
    battle_id: str
    winner: Winner
    model_a: str
    model_b: str
    counted: bool
    time_to_vote_s: float


@dataclass
class Battle:
    """Two anonymous (or named) models answering the same user turns; or one model in direct chat."""

    mode: Mode
    sides: dict[SideName, Side]
    session_id: str
    judge_hash: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)
    turns: int = 0
    leak_terms: set[str] = field(default_factory=set)
    winner: Winner | None = None
    answers_finished_at: float | None = None
    time_to_vote_s: float | None = None
    persisted: bool = False
    ever_failed: bool = False
    moderated: bool = False  # flagged by content moderation: closed, never voted on

    @classmethod
    def start(cls, mode: Mode, models: list[str], *, session_id: str, judge_hash: str) -> Battle:
        if mode == "direct":
            if len(models) != 1:
                raise ValueError("a direct chat has exactly one model")
            sides: dict[SideName, Side] = {"a": Side(models[0])}
        else:
            if len(models) != 2:
                raise ValueError("a battle has exactly two models")
            if models[0] == models[1]:
                raise RuleViolation("Pick two different models.")
            sides = {"a": Side(models[0]), "b": Side(models[1])}
        return cls(mode=mode, sides=sides, session_id=session_id, judge_hash=judge_hash)

    # --- state -----------------------------------------------------------
    @property
    def state(self) -> State:
        statuses = {s.status for s in self.sides.values()}
        if self.winner is not None:
            return "voted"
        if "generating" in statuses:
            return "generating"  # even after the other side failed: the survivor streams on and can be stopped
        if self.moderated:
            return "flagged"
        if self.ever_failed:
            return "failed"
        if self.turns == 0:
            return "ready"
        return "chatting" if self.mode == "direct" else "awaiting_vote"

    @property
    def can_vote(self) -> bool:
        return self.mode != "direct" and self.state == "awaiting_vote"

    @property
    def leaked(self) -> bool:
        return bool(self.leak_terms)

    @property
    def user_prompts(self) -> list[str]:
        return [m["content"] for m in self.sides["a"].messages if m["role"] == "user"]

    # --- turns -----------------------------------------------------------
    def check_prompt(self, prompt: str, limits: Limits) -> None:
        """Raise :class:`RuleViolation` unless *prompt* may start the next turn now (nothing changes)."""
        self._check_can_generate()
        text = clean_text((prompt or "").strip())
        if not text:
            raise RuleViolation("Type a message first.")
        if len(text) > limits.max_prompt_chars:
            raise RuleViolation(
                f"Your message is {len(text):,} characters long; the limit is {limits.max_prompt_chars:,}. Please shorten it."
            )
        if self.turns >= limits.max_turns:
            raise RuleViolation(
                f"This conversation reached the limit of {limits.max_turns} turns. "
                + ("Start a new chat." if self.mode == "direct" else "Vote, then start a new round.")
            )

    def begin_turn(self, prompt: str, limits: Limits) -> None:
        """Append the user's *prompt* to every side and mark them generating."""
        self.check_prompt(prompt, limits)
        text = clean_text((prompt or "").strip())
        self.turns += 1
        for side in self.sides.values():
            side.messages.append({"role": "user", "content": text})
            side.messages.append({"role": "assistant", "content": ""})
            side.status = "generating"
            side.error_kind = side.error_detail = None
        self.answers_finished_at = None

    def begin_regenerate(self) -> None:
        """Drop the last answers and start them again for the same user turn."""
        self._check_can_generate()
        if self.turns == 0:
            raise RuleViolation("There is nothing to regenerate yet.")
        for side in self.sides.values():
            if side.messages and side.messages[-1]["role"] == "assistant":
                side.messages[-1] = {"role": "assistant", "content": ""}
            side.status = "generating"
        self.answers_finished_at = None

    def _check_can_generate(self) -> None:
        state = self.state
        if state == "voted":
            raise RuleViolation("This battle is over: press “New round” to start another.")
        if state == "failed":
            raise RuleViolation("A model failed in this battle, so it cannot continue: press “New round”.")
        if state == "flagged":
            raise RuleViolation(FLAGGED_TEXT)
        if state == "generating":
            raise RuleViolation("Please wait for the answers to finish, or press Stop.")

    def append(self, side: SideName, text: str) -> None:
        s = self.sides[side]
        if s.status != "generating":
            return  # a late chunk after stop or failure is dropped
        s.messages[-1]["content"] += clean_text(text)  # model output is stored and shown: no NUL, no lone surrogate

    def finish_side(self, side: SideName, stats: GenerationStats, *, stopped: bool = False) -> None:
        s = self.sides[side]
        if s.status != "generating":
            return
        s.status = "stopped" if stopped else "done"
        if stopped:
            stats.finish_reason = "stopped"
        s.stats.append(stats)
        self._maybe_all_finished()

    def fail_side(self, side: SideName, kind: str, detail: str, stats: GenerationStats) -> None:
        s = self.sides[side]
        s.status = "error"
        s.error_kind, s.error_detail = kind, detail
        stats.finish_reason = "error"
        s.stats.append(stats)
        self.ever_failed = True
        self._maybe_all_finished()

    def _maybe_all_finished(self) -> None:
        if all(s.status != "generating" for s in self.sides.values()):
            self.answers_finished_at = time.monotonic()

    def flag_leak(self, terms: set[str]) -> None:
        self.leak_terms |= terms

    # --- vote and reveal ---------------------------------------------------
    def check_vote(self, winner: str, session_id: str) -> None:
        """Raise :class:`RuleViolation` unless *session_id* may cast *winner* now."""
        if winner not in WINNERS:
            raise RuleViolation(f"Unknown vote {winner!r}.")
        if session_id != self.session_id:
            raise RuleViolation("This battle belongs to another session.")
        state = self.state
        if self.mode == "direct":
            raise RuleViolation("Direct chats are not voted on.")
        if state == "voted":
            raise RuleViolation("You already voted in this battle: press “New round”.")
        if state == "failed":
            raise RuleViolation("A model failed in this battle, so it cannot be voted on: press “New round”.")
        if state == "flagged":
            raise RuleViolation(FLAGGED_TEXT)
        if state == "generating":
            raise RuleViolation("Please wait until both answers have finished before voting.")
        if state == "ready":
            raise RuleViolation("Ask something first, then vote on the answers.")

    def record_vote(self, winner: Winner, session_id: str) -> VoteReceipt:
        self.check_vote(winner, session_id)
        self.winner = winner
        finished = self.answers_finished_at or time.monotonic()
        self.time_to_vote_s = max(0.0, time.monotonic() - finished)
        return self.receipt()

    def receipt(self) -> VoteReceipt:
        assert self.winner is not None and self.time_to_vote_s is not None
        return VoteReceipt(
            battle_id=self.id,
            winner=self.winner,
            model_a=self.sides["a"].model,
            model_b=self.sides["b"].model,
            counted=self.mode == "anony" and not self.leaked,
            time_to_vote_s=self.time_to_vote_s,
        )

    def reveal(self) -> dict[SideName, str] | None:
        """Model names, once the voter may see them; None while they are secret."""
        if self.mode == "anony" and self.winner is None:
            return None
        return {name: side.model for name, side in self.sides.items()}
