"""Bulk import: finished, voted battles from elsewhere inserted with transcripts, votes and counts at once.

Battle ids already stored are skipped, so an import can be run again. Rows
are built in memory and inserted with one statement per table.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import insert as insert_into
from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.prompts import prompt_hash
from arena.snapshot import freeze
from arena.store import judges, votes
from arena.store.records import BattleRecord
from arena.store.votes import CountKey
from arena.tables import Battle, Conversation, Message, Vote


@dataclass
class ImportRows:
    """The rows of a batch of imported battles, per table, and the vote counts they add."""

    battles: list[dict] = field(default_factory=list)
    conversations: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    votes: list[dict] = field(default_factory=list)
    increments: Counter[CountKey] = field(default_factory=Counter)


def insert_battles(*, session: Session, records: list[BattleRecord], long_prompt_tokens: int,
                   known_judges: dict[str, int]) -> int:
    """Insert the records whose battle id is not stored yet (the last of duplicates in *records* wins); return how many."""
    unique = list({r.battle_id: r for r in records}.values())
    ids = [r.battle_id for r in unique]
    existing = set(session.scalars(select(Battle.id).where(Battle.id.in_(ids))))
    fresh = [r for r in unique if r.battle_id not in existing]
    judge_ids = judges.judge_ids(session=session, hashes={r.judge_hash for r in fresh}, known=known_judges)
    rows = ImportRows()
    for record in fresh:
        _add_rows(rows, record, judge_ids[record.judge_hash], long_prompt_tokens)
    for table, table_rows in ((Battle, rows.battles), (Conversation, rows.conversations), (Message, rows.messages),
                              (Vote, rows.votes)):
        if table_rows:
            session.execute(insert_into(table), table_rows)
    votes.bump_counts(session=session, increments=rows.increments)
    return len(fresh)


def _add_rows(rows: ImportRows, record: BattleRecord, judge_id: int, long_prompt_tokens: int) -> None:
    """Add one record's battle, conversations, messages, vote and count increments to *rows*."""
    f = record.facts
    rows.battles.append(dict(
        id=record.battle_id, mode=f.mode, model_a=f.model_a, model_b=f.model_b, judge_id=judge_id, status="voted",
        turns=f.turns, leak_flag=f.leak_flag, leak_terms=[], error_flag=f.error_flag, usage={},
        moderation_flag=record.moderation_flag, created_at=record.created_at, updated_at=record.created_at,
    ))
    for side, model, transcript in (("a", f.model_a, record.conversation_a), ("b", f.model_b, record.conversation_b)):
        conversation_id = uuid.uuid5(uuid.NAMESPACE_URL, f"arena-battle/{record.battle_id}/{side}").hex
        rows.conversations.append(dict(
            id=conversation_id, battle_id=record.battle_id, side=side, mode=f.mode, model=model,
            system_prompt=None, judge_id=judge_id, created_at=record.created_at,
        ))
        rows.messages.extend(_message_rows(conversation_id, transcript, record))
    rows.votes.append(dict(
        battle_id=record.battle_id, judge_id=judge_id, time_to_vote_s=record.time_to_vote_s, created_at=record.created_at,
        prompt_hash=prompt_hash(m["content"] for m in record.conversation_a if m["role"] == "user"),
        transcript=freeze(record.conversation_a, record.conversation_b), moderation_flag=record.moderation_flag,
        **votes.vote_columns(f),
    ))
    rows.increments.update(votes.count_keys(f, long_prompt_tokens))


def _message_rows(conversation_id: str, transcript: list[dict], record: BattleRecord) -> list[dict]:
    """A side's transcript as ``messages`` rows; a turn starts at each user message (the first turn is 1)."""
    rows: list[dict] = []
    turn = 0
    for position, message in enumerate(transcript):
        turn += message["role"] == "user"
        rows.append(dict(
            conversation_id=conversation_id, position=position, turn=max(turn, 1), role=message["role"],
            content=message["content"], superseded=False, created_at=record.created_at,
        ))
    return rows
