"""Votes: the vote row with the battle's facts frozen in it, and the per-category counts kept beside it.

``vote_counts`` is bumped in each vote's own transaction, so the leaderboard
reads a few rows per model pair instead of every vote; it can always be
rebuilt from ``votes`` (after an import, or a new long-prompt threshold).
"""

from __future__ import annotations

from collections import Counter
from typing import cast

from sqlalchemy import Table, delete, func, literal, select
from sqlalchemy import insert as insert_into
from sqlalchemy.orm import Session

from arena.categories import CATEGORIES, LANGUAGE_PREFIX, categories_of, category_filter
from arena.domain import VoteFacts
from arena.prompts import prompt_hash
from arena.snapshot import freeze
from arena.store import battles
from arena.store.engine import upsert_for, utcnow
from arena.tables import Vote, VoteCount
from arena.vote_arrays import STYLE_LIMITS

VOTES = cast(Table, Vote.__table__)  # the Core table, for the insert that skips the ORM's unit of work
CountKey = tuple[str, str, str, str]  # (category, model_a, model_b, winner)


def vote_columns(facts: VoteFacts) -> dict:
    """The ``votes`` columns that hold a vote's facts."""
    # Clamped so the packed per-vote read (arena.vote_arrays) can rely on each value's bit width.
    (len_a, headers_a, lists_a, bold_a), (len_b, headers_b, lists_b, bold_b) = (
        [min(max(int(value), 0), limit) for value, limit in zip(side, STYLE_LIMITS)] for side in (facts.style_a, facts.style_b)
    )
    return dict(
        winner=facts.winner, model_a=facts.model_a, model_b=facts.model_b, mode=facts.mode,
        leak_flag=facts.leak_flag, error_flag=facts.error_flag, turns=facts.turns, user_tokens=facts.user_tokens,
        language=facts.language, len_a=len_a, len_b=len_b, headers_a=headers_a, headers_b=headers_b,
        lists_a=lists_a, lists_b=lists_b, bold_a=bold_a, bold_b=bold_b,
    )


def count_keys(facts: VoteFacts, long_prompt_tokens: int) -> list[CountKey]:
    """The ``vote_counts`` keys one vote adds to: one per category it counts in."""
    return [(category, facts.model_a, facts.model_b, facts.winner) for category in categories_of(facts, long_prompt_tokens)]


def insert_vote(*, session: Session, battle_id: str, facts: VoteFacts, judge_id: int, time_to_vote_s: float,
                long_prompt_tokens: int) -> None:
    """Insert the vote (with its transcript as voted on), bump its category counts and close the battle.

    The unique key on ``votes.battle_id`` makes a second vote fail with an IntegrityError (at the insert or commit).
    """
    conversation_a, conversation_b, finish_reasons = battles.current_transcript(session=session, battle_id=battle_id)
    # Closing the battle tells whether moderation flagged it, in one statement (undone if the insert fails).
    moderated = battles.close_for_vote(session=session, battle_id=battle_id, now=utcnow())
    session.execute(insert_into(VOTES), [dict(
        battle_id=battle_id, judge_id=judge_id, time_to_vote_s=time_to_vote_s, created_at=utcnow(),
        prompt_hash=prompt_hash(m["content"] for m in conversation_a if m["role"] == "user"),
        transcript=freeze(conversation_a, conversation_b, finish_reasons), moderation_flag=moderated,
        **vote_columns(facts),
    )])
    bump_counts(session=session, increments=Counter(count_keys(facts, long_prompt_tokens)))


def bump_counts(*, session: Session, increments: Counter[CountKey]) -> None:
    """Add to vote_counts with one upsert per key (atomic on SQLite and PostgreSQL)."""
    if not increments:
        return
    insert = upsert_for(session)
    rows = [dict(category=c, model_a=a, model_b=b, winner=w, n=n) for (c, a, b, w), n in sorted(increments.items())]
    statement = insert(VoteCount)
    statement = statement.on_conflict_do_update(
        index_elements=["category", "model_a", "model_b", "winner"], set_={"n": VoteCount.n + statement.excluded.n}
    )
    session.execute(statement, rows)


def rebuild_counts(*, session: Session, long_prompt_tokens: int) -> None:
    """Recompute vote_counts from the votes table: every fixed category and one per language seen."""
    session.execute(delete(VoteCount))
    stored = session.scalars(select(Vote.language).where(Vote.language.is_not(None)).distinct())
    languages = [code for code in stored if code is not None]
    for category in [*CATEGORIES, *(LANGUAGE_PREFIX + code for code in languages)]:
        query = (
            select(literal(category), Vote.model_a, Vote.model_b, Vote.winner, func.count())
            .where(category_filter(category, long_prompt_tokens))
            .group_by(Vote.model_a, Vote.model_b, Vote.winner)
        )
        session.execute(insert_into(VoteCount).from_select(["category", "model_a", "model_b", "winner", "n"], query))


def counts_missing(*, session: Session) -> bool:
    """True when there are votes but no counts (a database from before vote_counts, or a copy of votes alone)."""
    has_votes = session.scalar(select(Vote.id).limit(1)) is not None
    has_counts = session.scalar(select(VoteCount.n).limit(1)) is not None
    return has_votes and not has_counts


def winner_of(*, session: Session, battle_id: str) -> str | None:
    """The stored vote's winner for *battle_id*, or None if it has no vote."""
    return session.scalar(select(Vote.winner).where(Vote.battle_id == battle_id))
