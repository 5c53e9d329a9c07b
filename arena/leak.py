"""Live identity-leak check: does an answer name a model or its maker?

An anonymous vote is only worth counting while the voter cannot tell which
model is which. When an answer names itself ("I am Starling…"), its
organisation, or another configured model, the battle is flagged; the vote is
still stored but does not count toward the default leaderboard.

A term that the user's own prompts already mention is not a leak: the model
is then answering a question about that name, not revealing itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

# Words too generic to identify a model when a name is split into parts.
_GENERIC = {
    "chat", "instruct", "alpha", "beta", "model", "base", "embedded", "local", "preview",
    "turbo", "mini", "small", "large", "medium", "tiny", "hermes", "open", "assistant",
}
# Well-known assistants that models often claim to be, configured or not.
WELL_KNOWN = ("ChatGPT", "GPT-4", "GPT-3.5", "OpenAI", "Claude", "Anthropic", "Gemini", "Bard", "LLaMA", "Meta AI", "Mistral AI", "Qwen", "Vicuna")


HIDDEN = "[name hidden]"


@dataclass(frozen=True)
class LeakFinding:
    term: str
    side: str


def expand_terms(terms: Iterable[str]) -> set[str]:
    """A name and its distinctive parts: 'Starling-LM-7B-alpha' → {…, 'Starling'}."""
    expanded: set[str] = set()
    for term in terms:
        term = term.strip()
        if len(term) < 3:
            continue
        expanded.add(term)
        for part in re.split(r"[-_/\s.:]+", term):
            if len(part) >= 4 and part.isalpha() and part.lower() not in _GENERIC:
                expanded.add(part)
    return expanded


class LeakDetector:
    """Matches identity terms as whole words, case-insensitively."""

    def __init__(self, terms: Iterable[str], *, well_known: bool = True) -> None:
        """*well_known* adds famous assistants' names (a leak check wants them; masking does not)."""
        self.terms = sorted(expand_terms([*terms, *(WELL_KNOWN if well_known else ())]), key=len, reverse=True)
        alternatives = "|".join(re.escape(t) for t in self.terms)
        self._pattern = re.compile(rf"(?<![\w-])({alternatives})(?![\w])", re.IGNORECASE) if self.terms else None

    def find(self, text: str) -> set[str]:
        """Terms present in *text* (lower-cased)."""
        if not self._pattern or not text:
            return set()
        return {m.group(1).lower() for m in self._pattern.finditer(text)}

    def mask(self, text: str, prompts: Iterable[str] = ()) -> str:
        """*text* with every term replaced by a neutral marker, except terms the user's *prompts* mention.

        Why: the leak check runs when a turn ends, but answers stream to the
        browser token by token; masking what is displayed keeps a model that
        names itself anonymous until the vote (the stored answer is unchanged).
        """
        if not self._pattern or not text:
            return text
        asked: set[str] = set()
        for prompt in prompts:
            asked |= self.find(prompt)
        return self._pattern.sub(lambda m: m.group(0) if m.group(1).lower() in asked else HIDDEN, text)

    def check(self, answers: dict[str, str], prompts: Iterable[str]) -> list[LeakFinding]:
        """Leaks in each side's *answers* that the user's *prompts* did not ask about."""
        asked: set[str] = set()
        for prompt in prompts:
            asked |= self.find(prompt)
        findings = []
        for side, text in answers.items():
            for term in sorted(self.find(text) - asked):
                findings.append(LeakFinding(term=term, side=side))
        return findings
