"""An LLM judge: a chat model asked which of two answers is better, its reply parsed strictly.

Strict parsing is the point: a reply that does not end in ``Verdict: 1``,
``Verdict: 2`` or ``Verdict: tie`` after a ``Rationale:`` line is counted as
invalid, not guessed at, so a judge that rambles shows up in its invalid rate
instead of as noise in its agreement. A reading never raises: backend errors
and timeouts are invalid readings with a reason.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace

from arena.backends.base import Backend, BackendError, GenerationStats, Message, SamplingParams
from arena.judges.base import JudgeInput, JudgeKind, Reading
from arena.judges.verdicts import Verdict

RATIONALE_CHARS = 500
_VERDICT_LINE = re.compile(r"^verdict:\s*(1|2|tie)$", re.IGNORECASE)
_RATIONALE_LINE = re.compile(r"^rationale:\s*", re.IGNORECASE)
_VERDICTS: dict[str, Verdict] = {"1": "a", "2": "b", "tie": "tie"}
_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}

SYSTEM_PROMPT = (
    "You are an impartial judge. You compare two answers to the same conversation and decide which one "
    "better serves the user: helpful, correct, clear and honest. Do not let the answers' order, length or "
    "style sway you, and do not favour either position."
)
OUTPUT_FORMAT = (
    "Reply with exactly two lines and nothing else:\n"
    "Rationale: <one or two sentences>\n"
    "Verdict: <1, 2 or tie>"
)


def render_conversation(conversation: list[Message]) -> str:
    """The conversation as plain text, one turn per paragraph, prefixed by who spoke."""
    return "\n\n".join(f"{_ROLES.get(m['role'], m['role'])}: {m['content']}" for m in conversation)


def judge_messages(item: JudgeInput) -> list[Message]:
    """The chat sent to the judge model: the instructions, then the conversation, both answers and the format."""
    user = (
        f"[Conversation]\n{render_conversation(item.conversation)}\n\n"
        f"[Answer 1]\n{item.first}\n\n"
        f"[Answer 2]\n{item.second}\n\n"
        f"Which answer is better, Answer 1 or Answer 2 (or tie)? {OUTPUT_FORMAT}"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_reply(text: str) -> Reading:
    """The reading a reply gives: its last line must be the verdict, with a ``Rationale:`` line before it."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return Reading(verdict=None, invalid_reason="empty")
    unparseable = Reading(verdict=None, invalid_reason=f"unparseable: {text.strip()[:80]}")
    match = _VERDICT_LINE.match(lines[-1])
    starts = [i for i, line in enumerate(lines[:-1]) if _RATIONALE_LINE.match(line)]
    if match is None or not starts:
        return unparseable
    rationale_lines = lines[starts[-1]:-1]
    rationale = " ".join([_RATIONALE_LINE.sub("", rationale_lines[0]), *rationale_lines[1:]]).strip()
    if not rationale:
        return unparseable
    return Reading(verdict=_VERDICTS[match.group(1).lower()], rationale=rationale[:RATIONALE_CHARS])


class LlmJudge:
    """A :class:`arena.judges.base.Judge` over a model backend (vLLM/OpenAI-compatible or the embedded model)."""

    kind: JudgeKind = "llm"

    def __init__(self, name: str, backend: Backend, params: SamplingParams, *, timeout_s: float = 60.0) -> None:
        self.name = name
        self.backend = backend
        self.params = params
        self.timeout_s = timeout_s

    async def read(self, item: JudgeInput) -> Reading:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                text = await self._reply(judge_messages(item))
        except TimeoutError:
            reading = Reading(verdict=None, invalid_reason="timed out")
        except BackendError as exc:
            reading = Reading(verdict=None, invalid_reason=f"backend error: {exc.kind}", unavailable=True)
        else:
            reading = parse_reply(text)
        return replace(reading, latency_s=time.monotonic() - started)

    async def _reply(self, messages: list[Message]) -> str:
        chunks = [chunk async for chunk in self.backend.stream(messages, self.params, GenerationStats())]
        return "".join(chunks)

    async def aclose(self) -> None:
        """Nothing to release: the backend belongs to the model pool, which closes it."""
