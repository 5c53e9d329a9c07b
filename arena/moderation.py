"""Content moderation of battles: a pluggable check run on every turn, over both sides' history.

Why both sides: a battle is one conversation shown twice. A check of the
prompt plus one side's answers (the bug FastChat fixed in #3794) lets the
other side's output through. Here every turn sends the newest prompt and
*all* messages of *both* sides, each text once.

Two moderators ship:

* :class:`RuleModerator`, the default, runs locally with no network: a few
  regular expressions for content an arena must never collect (sexual content
  involving minors, requests for mass-casualty weapons, pasted payment card
  numbers). It is deliberately narrow: a false positive costs a voter's
  battle. Extra patterns come from ``ARENA_MODERATION_PATTERNS`` (a file with
  one regular expression per line).
* :class:`OpenAIModerator` calls an OpenAI-compatible ``/moderations``
  endpoint (``ARENA_MODERATION_URL``), e.g. OpenAI's or a self-hosted
  classifier with the same API.

A flagged prompt is refused; flagged answers close the battle. Either way the
battle is stored with ``moderation_flag`` and can no longer be voted on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol

from arena.http_clients import async_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    categories: tuple[str, ...] = ()


class Moderator(Protocol):
    async def check(self, texts: list[str]) -> Verdict:
        """Whether any of *texts* breaks the rules (and which categories)."""
        ...


def _luhn_ok(digits: str) -> bool:
    """The payment-card checksum, so that an order number or a phone number is not taken for a card."""
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){13,19}(?!\d)")

_YOUNG = r"(?:child|children|minor|minors|underage|preteen|\d{1,2}[- ]?(?:yo|year[- ]old))"
_SEXUAL = r"(?:sex|sexual|nude|naked|porn\w*|erotic)"
DEFAULT_RULES: dict[str, str] = {
    "sexual/minors": rf"\b{_YOUNG}\b.{{0,40}}\b{_SEXUAL}\b|\b{_SEXUAL}\b.{{0,40}}\b{_YOUNG}\b",
    "weapons/mass-casualty": r"\b(?:synthesi[sz]e|make|build|produce|weaponi[sz]e)\b.{0,40}"
                             r"\b(?:sarin|vx nerve|nerve agent|anthrax|botulinum|ricin|smallpox|dirty bomb|nuclear bomb)\b",
}


@dataclass
class RuleModerator:
    """Local patterns (case-insensitive) plus the payment-card check."""

    rules: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_RULES))

    def __post_init__(self) -> None:
        self._compiled = {name: re.compile(pattern, re.IGNORECASE | re.DOTALL) for name, pattern in self.rules.items()}

    @classmethod
    def with_pattern_file(cls, path: str | Path) -> RuleModerator:
        """The default rules plus one regular expression per non-empty, non-# line of *path* (category 'custom')."""
        lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
        patterns = [line for line in lines if line and not line.startswith("#")]
        rules = dict(DEFAULT_RULES)
        for i, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{path}: line pattern {i + 1} {pattern!r} is not a valid regular expression ({exc}).") from None
            rules[f"custom/{i + 1}"] = pattern
        return cls(rules)

    def check_sync(self, texts: Iterable[str]) -> Verdict:
        categories: set[str] = set()
        for text in texts:
            for name, pattern in self._compiled.items():
                if pattern.search(text):
                    categories.add(name)
            for match in _CARD.finditer(text):
                digits = re.sub(r"\D", "", match.group(0))
                if 13 <= len(digits) <= 19 and _luhn_ok(digits):
                    categories.add("personal-data/payment-card")
        return Verdict(bool(categories), tuple(sorted(categories)))

    async def check(self, texts: list[str]) -> Verdict:
        return self.check_sync(texts)


class OpenAIModerator:
    """``POST {url}/moderations`` with every text as one input list; flagged if any result is."""

    def __init__(self, url: str, *, model: str = "", api_key: str = "", timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/moderations"
        self.model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout_s = timeout_s

    async def check(self, texts: list[str]) -> Verdict:
        body: dict = {"input": texts}
        if self.model:
            body["model"] = self.model
        # One client per call: a client is bound to its event loop, and one request per turn needs no pool.
        async with async_client(timeout=self._timeout_s, headers=self._headers) as client:
            response = await client.post(self.url, json=body)
        response.raise_for_status()
        categories: set[str] = set()
        flagged = False
        for result in response.json().get("results", []):
            if result.get("flagged"):
                flagged = True
                categories |= {name for name, on in (result.get("categories") or {}).items() if on}
        return Verdict(flagged, tuple(sorted(categories)))


class NoModerator:
    async def check(self, texts: list[str]) -> Verdict:
        return Verdict(False)


def build_moderator(kind: str, *, url: str = "", model: str = "", api_key: str = "", patterns: str = "") -> Moderator:
    """From settings: 'rules' (default), 'openai' (needs a URL) or 'off'."""
    if kind == "off":
        return NoModerator()
    if kind == "openai":
        if not url:
            raise ValueError("ARENA_MODERATION=openai needs ARENA_MODERATION_URL (an OpenAI-compatible base URL ending in /v1).")
        return OpenAIModerator(url, model=model, api_key=api_key)
    if kind == "rules":
        return RuleModerator.with_pattern_file(patterns) if patterns else RuleModerator()
    raise ValueError(f"ARENA_MODERATION={kind!r}: use rules, openai or off.")


def battle_texts(sides: Iterable[list[dict]], prompt: str | None = None) -> list[str]:
    """Every message of every side, each distinct text once (the shared prompts appear on both sides), plus *prompt*."""
    seen: dict[str, None] = {}
    if prompt:
        seen[prompt] = None
    for messages in sides:
        for message in messages:
            content = message.get("content") or ""
            if content:
                seen.setdefault(content, None)
    return list(seen)
