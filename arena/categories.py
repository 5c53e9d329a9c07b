"""Leaderboard categories: rules over the facts stored with every vote.

Each category is defined once here, twice over: as a Python predicate (used
when a vote is recorded, to bump the incrementally maintained pair counts) and
as a SQL filter (used to rebuild those counts and for the per-vote paths such
as style control, online Elo and the daily vote cap). A test checks that the
two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import ColumnElement, and_

from arena.domain import VoteFacts  # re-exported: the type lives in the leaf module arena.domain
from arena.tables import Vote

DEFAULT_CATEGORY = "overall"
LANGUAGE_PREFIX = "lang:"


@dataclass(frozen=True)
class Category:
    name: str
    title: str
    description: str
    matches: Callable[[VoteFacts, int], bool]
    where: Callable[[int], ColumnElement[bool]]


def _counted(f: VoteFacts) -> bool:
    return f.mode == "anony" and not f.leak_flag and not f.error_flag


def _counted_sql() -> ColumnElement[bool]:
    return and_(Vote.mode == "anony", Vote.leak_flag.is_(False), Vote.error_flag.is_(False))


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category("overall", "Overall", "Anonymous battles, excluding flagged ones (identity leak, errors).",
                 lambda f, t: _counted(f), lambda t: _counted_sql()),
        Category("anonymous", "Anonymous (incl. flagged)", "Every anonymous battle, flagged ones included.",
                 lambda f, t: f.mode == "anony", lambda t: Vote.mode == "anony"),
        Category("all", "All votes (incl. side-by-side)", "Anonymous and named battles, excluding flagged ones.",
                 lambda f, t: not f.leak_flag and not f.error_flag,
                 lambda t: and_(Vote.leak_flag.is_(False), Vote.error_flag.is_(False))),
        Category("multi_turn", "Multi-turn", "Overall, battles with more than one user turn.",
                 lambda f, t: _counted(f) and f.turns > 1, lambda t: and_(_counted_sql(), Vote.turns > 1)),
        Category("long_prompt", "Long prompts", "Overall, battles whose user turns have at least ARENA_LONG_PROMPT_TOKENS tokens.",
                 lambda f, t: _counted(f) and f.user_tokens >= t, lambda t: and_(_counted_sql(), Vote.user_tokens >= t)),
        Category("no_ties", "Excluding ties", "Overall, decisive votes only.",
                 lambda f, t: _counted(f) and f.winner in ("model_a", "model_b"),
                 lambda t: and_(_counted_sql(), Vote.winner.in_(("model_a", "model_b")))),
    )
}


def categories_of(facts: VoteFacts, long_prompt_tokens: int) -> list[str]:
    """Every category a vote counts in (fixed ones, then its language)."""
    names = [c.name for c in CATEGORIES.values() if c.matches(facts, long_prompt_tokens)]
    if facts.language and _counted(facts):
        names.append(LANGUAGE_PREFIX + facts.language)
    return names


def category_filter(name: str, long_prompt_tokens: int) -> ColumnElement[bool]:
    """SQL condition on ``votes`` selecting the votes of category *name*."""
    if name in CATEGORIES:
        return CATEGORIES[name].where(long_prompt_tokens)
    if name.startswith(LANGUAGE_PREFIX):
        return and_(_counted_sql(), Vote.language == name.removeprefix(LANGUAGE_PREFIX))
    raise UnknownCategory(name)


def describe(name: str) -> str:
    if name in CATEGORIES:
        return CATEGORIES[name].description
    if name.startswith(LANGUAGE_PREFIX):
        return f"Overall, prompts detected as language '{name.removeprefix(LANGUAGE_PREFIX)}'."
    raise UnknownCategory(name)


class UnknownCategory(ValueError):
    def __init__(self, name: str) -> None:
        known = ", ".join([*CATEGORIES, LANGUAGE_PREFIX + "<code>"])
        super().__init__(f"unknown category {name!r}; known: {known}")


__all__ = ["CATEGORIES", "DEFAULT_CATEGORY", "Category", "VoteFacts", "categories_of", "category_filter", "describe", "UnknownCategory"]
