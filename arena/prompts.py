"""Prompt text: cleaned of what cannot be stored or shown, and identified across battles by a hash.

Two battles "ask the same thing" when their user turns are equal after case
folding and whitespace collapsing. The hash is stored with every vote, so the
export can group battles by prompt (K-wise rankings) or cap rows per prompt
(de-duplication) with an indexed column instead of comparing transcripts.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable

TURN_SEPARATOR = "\u241e"  # a symbol no prompt normalizes to, between user turns
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = {c: None for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)} | {0x7F: None}


def clean_text(value: str) -> str:
    """*value* without control characters (tab and newlines kept) and with lone surrogates replaced by U+FFFD.

    Why: a lone surrogate cannot be encoded as UTF-8 (the database, the event
    stream and the log all fail on it), and PostgreSQL refuses NUL in text.
    Browsers can send both (``JSON.stringify`` escapes lone surrogates).
    """
    if value.isascii() and value.isprintable():
        return value
    return _SURROGATE.sub("\ufffd", value).translate(_CONTROL)


def normalize_prompt(text: str) -> str:
    """Case-folded text with runs of whitespace collapsed to one space."""
    return " ".join(text.casefold().split())


def prompt_hash(user_turns: Iterable[str]) -> str | None:
    """SHA-256 (hex) of the normalized user turns; None when there is no user text."""
    turns = [normalize_prompt(t) for t in user_turns]
    if not any(turns):
        return None
    return hashlib.sha256(TURN_SEPARATOR.join(turns).encode("utf-8")).hexdigest()
