"""Cheap, model-independent text measurements: token counts and markdown style features.

Different models tokenize differently, so lengths here use one fixed rule
(words and punctuation marks) that is the same for every model and every
stored battle. Style features follow the arena convention: answer length,
markdown headers, list items and bold spans, summed over a side's answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_HEADER = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)


def count_tokens(text: str) -> int:
    """Words plus punctuation marks: a tokenizer-free length that is stable across models."""
    return len(_TOKEN.findall(text or ""))


@dataclass(frozen=True)
class StyleFeatures:
    length: int = 0
    headers: int = 0
    list_items: int = 0
    bold: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.length, self.headers, self.list_items, self.bold)


def style_features(answers: Iterable[str]) -> StyleFeatures:
    """Style counts over a side's answers (code blocks are ignored for markdown counts)."""
    length = headers = items = bold = 0
    for answer in answers:
        answer = answer or ""
        length += count_tokens(answer)
        prose = _FENCE.sub("", answer)
        headers += len(_HEADER.findall(prose))
        items += len(_LIST_ITEM.findall(prose))
        bold += len(_BOLD.findall(prose))
    return StyleFeatures(length, headers, items, bold)
