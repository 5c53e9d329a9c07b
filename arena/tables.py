"""The SQL schema (SQLAlchemy 2 ORM). Alembic migrations in ``db/migrations`` mirror it.

Judges are stored only as salted hashes. A battle owns two conversations (one
per side, in side order a/b); a direct chat is a conversation without a
battle. A vote is unique per battle: the database, not the app, guarantees one
vote per battle even with several app instances.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAME_LENGTH = 100


class Base(DeclarativeBase):
    pass


class ArenaMeta(Base):
    """Small key/value facts shared by all instances (e.g. the judge salt)."""

    __tablename__ = "arena_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Judge(Base):
    __tablename__ = "judges"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    judge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Battle(Base):
    __tablename__ = "battles"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8))
    model_a: Mapped[str] = mapped_column(String(NAME_LENGTH))
    model_b: Mapped[str] = mapped_column(String(NAME_LENGTH))
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id"))
    status: Mapped[str] = mapped_column(String(16))
    turns: Mapped[int] = mapped_column(Integer, default=0)
    leak_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    leak_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    moderation_flag: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    usage: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    conversations: Mapped[list[Conversation]] = relationship(back_populates="battle", order_by="Conversation.side")
    vote: Mapped[Vote | None] = relationship(back_populates="battle", uselist=False)

    __table_args__ = (
        CheckConstraint("mode IN ('anony', 'named')", name="ck_battles_mode"),
        Index("ix_battles_models", "model_a", "model_b"),
        Index("ix_battles_created_at", "created_at"),
    )


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    battle_id: Mapped[str | None] = mapped_column(ForeignKey("battles.id"), nullable=True, index=True)
    side: Mapped[str | None] = mapped_column(String(1), nullable=True)
    mode: Mapped[str] = mapped_column(String(8))
    model: Mapped[str] = mapped_column(String(NAME_LENGTH))
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    battle: Mapped[Battle | None] = relationship(back_populates="conversations")
    messages: Mapped[list[Message]] = relationship(back_populates="conversation", order_by="Message.position")

    __table_args__ = (UniqueConstraint("battle_id", "side", name="uq_conversations_battle_side"),)


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    position: Mapped[int] = mapped_column(Integer)
    turn: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_token_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    __table_args__ = (UniqueConstraint("conversation_id", "position", name="uq_messages_conversation_position"),)


class Vote(Base):
    """One vote per battle, with the battle's facts frozen at vote time.

    The copy of models, mode, flags and style counts makes ``votes`` the
    complete input of the ratings: a leaderboard never joins transcripts.
    """

    __tablename__ = "votes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    battle_id: Mapped[str] = mapped_column(ForeignKey("battles.id"), unique=True)
    winner: Mapped[str] = mapped_column(String(16))
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id"))
    time_to_vote_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model_a: Mapped[str] = mapped_column(String(NAME_LENGTH), server_default="")
    model_b: Mapped[str] = mapped_column(String(NAME_LENGTH), server_default="")
    mode: Mapped[str] = mapped_column(String(8), server_default="anony")
    leak_flag: Mapped[bool] = mapped_column(Boolean, server_default=false())
    error_flag: Mapped[bool] = mapped_column(Boolean, server_default=false())
    turns: Mapped[int] = mapped_column(Integer, server_default="1")
    user_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    len_a: Mapped[int] = mapped_column(Integer, server_default="0")
    len_b: Mapped[int] = mapped_column(Integer, server_default="0")
    headers_a: Mapped[int] = mapped_column(Integer, server_default="0")
    headers_b: Mapped[int] = mapped_column(Integer, server_default="0")
    lists_a: Mapped[int] = mapped_column(Integer, server_default="0")
    lists_b: Mapped[int] = mapped_column(Integer, server_default="0")
    bold_a: Mapped[int] = mapped_column(Integer, server_default="0")
    bold_b: Mapped[int] = mapped_column(Integer, server_default="0")
    prompt_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # arena.prompts.prompt_hash of the user turns
    transcript: Mapped[str | None] = mapped_column(Text, nullable=True)  # arena.snapshot: what the voter judged, as JSON
    moderation_flag: Mapped[bool] = mapped_column(Boolean, server_default=false())  # copy of the battle's flag

    battle: Mapped[Battle] = relationship(back_populates="vote")

    __table_args__ = (
        CheckConstraint("winner IN ('model_a', 'model_b', 'tie', 'tie (bothbad)')", name="ck_votes_winner"),
        Index("ix_votes_filter", "mode", "leak_flag", "error_flag"),
        Index("ix_votes_prompt_hash", "prompt_hash"),
    )


class VoteCount(Base):
    """Votes per (category, model_a, model_b, winner), kept current in each vote's transaction."""

    __tablename__ = "vote_counts"
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_a: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    model_b: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    winner: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


JUDGEMENT_STATUSES = ("pending", "done", "invalid", "error")


class Judgement(Base):
    """One AI judge's verdict on one voted battle; the pending rows are the judging worker's queue.

    Verdicts name the original sides (``a`` is model_a's answer whichever order
    it was shown in): *verdict_ab* and *verdict_ba* are the two readings',
    *verdict* and *consistent* their combination (arena.judges.verdicts).
    """

    __tablename__ = "judgements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id"))
    battle_id: Mapped[str] = mapped_column(String(32))
    judge: Mapped[str] = mapped_column(String(NAME_LENGTH))
    judge_kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    verdict: Mapped[str | None] = mapped_column(String(4), nullable=True)
    consistent: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    verdict_ab: Mapped[str | None] = mapped_column(String(4), nullable=True)
    verdict_ba: Mapped[str | None] = mapped_column(String(4), nullable=True)
    rationale_ab: Mapped[str | None] = mapped_column(Text, nullable=True)
    rationale_ba: Mapped[str | None] = mapped_column(Text, nullable=True)
    score_a: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_b: Mapped[float | None] = mapped_column(Float, nullable=True)
    invalid_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    latency_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    judged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        UniqueConstraint("vote_id", "judge", name="uq_judgements_vote_judge"),
        CheckConstraint("status IN ('pending', 'done', 'invalid', 'error')", name="ck_judgements_status"),
        Index("ix_judgements_queue", "judge", "status", "id"),
    )
