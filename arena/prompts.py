"""Identity of a prompt across battles: the normalized text of its user turns, hashed.

Two battles "ask the same thing" when their user turns are equal after case
folding and whitespace collapsing. The hash is stored with every vote, so the
export can group battles by prompt (K-wise rankings) or cap rows per prompt
(de-duplication) with an indexed column instead of comparing transcripts.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

TURN_SEPARATOR = "\u241e"  # a symbol no prompt normalizes to, between user turns


def normalize_prompt(text: str) -> str:
    """Case-folded text with runs of whitespace collapsed to one space."""
    return " ".join(text.casefold().split())


def prompt_hash(user_turns: Iterable[str]) -> str | None:
    """SHA-256 (hex) of the normalized user turns; None when there is no user text."""
    turns = [normalize_prompt(t) for t in user_turns]
    if not any(turns):
        return None
    return hashlib.sha256(TURN_SEPARATOR.join(turns).encode("utf-8")).hexdigest()
