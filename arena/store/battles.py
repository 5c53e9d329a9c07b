"""Battles, direct chats and their transcripts: the start, each turn's messages, flags, and reading them back.

Writes use Core statements, not the ORM's unit of work: the latter was half
of a battle start's CPU and a third of a turn's.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy import insert as insert_into
from sqlalchemy.orm import Session

from arena import battle as battle_rules
from arena.snapshot import assemble
from arena.tables import Battle, Conversation, Message

# The Core tables behind the ORM classes (``__table__`` is declared a FromClause, which ``insert`` does not take).
BATTLES, CONVERSATIONS, MESSAGES = (cast(Table, entity.__table__) for entity in (Battle, Conversation, Message))
MESSAGE_STATS = ("finish_reason", "prompt_tokens", "completion_tokens", "first_token_s", "duration_s", "error_kind", "error_detail")


def insert_start(*, session: Session, battle: battle_rules.Battle, judge_id: int, now: datetime) -> None:
    """Insert the battle (none for a direct chat) and its conversations."""
    if battle.mode != "direct":
        session.execute(insert_into(BATTLES), [dict(
            id=battle.id, mode=battle.mode, model_a=battle.sides["a"].model, model_b=battle.sides["b"].model,
            judge_id=judge_id, status="chatting", turns=0, leak_flag=False, leak_terms=[], error_flag=False,
            usage={}, created_at=now, updated_at=now,
        )])
    session.execute(insert_into(CONVERSATIONS), [dict(
        id=side.conversation_id,
        battle_id=battle.id if battle.mode != "direct" else None,
        side=side_name if battle.mode != "direct" else None,
        mode=battle.mode, model=side.model, system_prompt=side.system_prompt, judge_id=judge_id, created_at=now,
    ) for side_name, side in battle.sides.items()])


def insert_turn(*, session: Session, battle: battle_rules.Battle, regenerated: bool, now: datetime) -> None:
    """Store the newest user turn and answers (marking replaced answers on regenerate), and the battle's state."""
    rows: list[dict] = []  # inserted in one statement
    for side in battle.sides.values():
        rows.extend(_side_turn_rows(session=session, battle=battle, side=side, regenerated=regenerated, now=now))
    session.execute(insert_into(MESSAGES), rows)
    if battle.mode != "direct":
        session.execute(update(Battle).where(Battle.id == battle.id).values(**_battle_state(battle, now)))


def _side_turn_rows(*, session: Session, battle: battle_rules.Battle, side: battle_rules.Side, regenerated: bool,
                    now: datetime) -> list[dict]:
    """One side's new ``messages`` rows for this turn; on regenerate, its previous answer is marked superseded."""
    rows: list[dict] = []
    last_position = session.scalar(select(func.max(Message.position)).where(Message.conversation_id == side.conversation_id))
    next_position = 0 if last_position is None else last_position + 1
    if regenerated:
        last_answer = session.scalar(
            select(func.max(Message.position)).where(
                Message.conversation_id == side.conversation_id,
                Message.role == "assistant",
                Message.superseded.is_(False),
            )
        )
        if last_answer is not None:
            session.execute(
                update(Message)
                .where(Message.conversation_id == side.conversation_id, Message.position == last_answer)
                .values(superseded=True)
            )
    else:
        rows.append(_message_row(side.conversation_id, next_position, battle.turns, "user", side.messages[-2]["content"], now))
        next_position += 1
    stats = side.stats[-1] if side.stats else None
    rows.append(_message_row(
        side.conversation_id, next_position, battle.turns, "assistant", side.messages[-1]["content"], now,
        finish_reason=stats.finish_reason if stats else None,
        prompt_tokens=stats.prompt_tokens if stats else None,
        completion_tokens=stats.completion_tokens if stats else None,
        first_token_s=stats.first_token_s if stats else None,
        duration_s=stats.duration_s if stats else None,
        error_kind=side.error_kind,
        error_detail=side.error_detail,
    ))
    return rows


def _battle_state(battle: battle_rules.Battle, now: datetime) -> dict:
    """The ``battles`` columns a turn updates: turns, flags, usage and, once failed, the errors."""
    errors = [f"{n}: {s.error_kind}: {s.error_detail}" for n, s in battle.sides.items() if s.status == "error"]
    values: dict = dict(
        turns=battle.turns,
        leak_flag=battle.leaked,
        leak_terms=sorted(battle.leak_terms),
        moderation_flag=battle.moderated,
        usage=_usage(battle),
        updated_at=now,
    )
    if battle.ever_failed:
        values.update(status="failed", error_flag=True)
    if errors:
        values["error_detail"] = "\n".join(errors)
    return values


def flag_moderation(*, session: Session, battle_id: str, now: datetime) -> None:
    """Mark a stored battle as flagged by content moderation (nothing else changes)."""
    session.execute(update(Battle).where(Battle.id == battle_id).values(moderation_flag=True, updated_at=now))


def close_for_vote(*, session: Session, battle_id: str, now: datetime) -> bool:
    """Set the battle's status to voted; True if moderation had flagged it (one statement, undone with its transaction)."""
    return bool(session.scalar(
        update(Battle).where(Battle.id == battle_id).values(status="voted", updated_at=now).returning(Battle.moderation_flag)
    ))


def current_transcript(*, session: Session, battle_id: str) -> tuple[list[dict], list[dict], list[str | None]]:
    """Both sides' current messages (system prompt first, if any) and the answers' finish reasons."""
    return assemble(session.execute(
        select(Conversation.side, Conversation.system_prompt, Message.role, Message.content, Message.finish_reason)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.battle_id == battle_id, Message.superseded.is_(False))
        .order_by(Conversation.side, Message.position)
    ))


def battle_row(*, session: Session, battle_id: str) -> Battle | None:
    return session.get(Battle, battle_id)


def transcript(*, session: Session, conversation_id: str, include_superseded: bool = False) -> list[Message]:
    """A conversation's messages in order; answers replaced by a regenerate only if asked for."""
    query = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.position)
    if not include_superseded:
        query = query.where(Message.superseded.is_(False))
    return list(session.scalars(query))


def _message_row(conversation_id: str, position: int, turn: int, role: str, content: str, created_at: datetime,
                 **stats: object) -> dict:
    """One ``messages`` row for a bulk insert; every row carries every column (an executemany needs equal keys)."""
    row: dict = dict.fromkeys(MESSAGE_STATS)
    row.update(stats)
    row.update(conversation_id=conversation_id, position=position, turn=turn, role=role, content=content,
               superseded=False, created_at=created_at)
    return row


def _usage(battle: battle_rules.Battle) -> dict:
    """Each side's token counts, timings and finish reasons over all its answers (the ``battles.usage`` JSON)."""
    usage = {}
    for name, side in battle.sides.items():
        usage[name] = {
            "prompt_tokens": sum(s.prompt_tokens or 0 for s in side.stats),
            "completion_tokens": sum(s.completion_tokens or 0 for s in side.stats),
            "first_token_s": [s.first_token_s for s in side.stats],
            "duration_s": [s.duration_s for s in side.stats],
            "finish_reasons": [s.finish_reason for s in side.stats],
        }
    return usage
