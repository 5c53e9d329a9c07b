"""Voted battles with their transcripts, streamed from the store in chunks, with the export filters.

Memory stays flat: battles are read in keyset-paginated chunks (by vote id, or
by prompt hash for the K-wise grouping) and each chunk's messages in one more
query. Every battle that a filter drops is counted under its reason, so an
export can say exactly what it left out and why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Iterator, Literal

from sqlalchemy import select, tuple_

from arena.store import Store
from arena.tables import Battle, Conversation, Judge, Message, Vote

FINISHED = (None, "stop")  # finish reasons of a complete answer (None: imported, reason unknown)


@dataclass(frozen=True)
class ExportedBattle:
    """One voted battle as the export formats see it (judges only as salted hashes)."""

    battle_id: str
    vote_id: int
    model_a: str
    model_b: str
    winner: str
    judge: str
    mode: str
    turns: int
    language: str | None
    leak_flag: bool
    error_flag: bool
    moderation_flag: bool
    voted_at: datetime
    prompt_hash: str | None
    conversation_a: list[dict[str, str]]
    conversation_b: list[dict[str, str]]
    finish_reasons: tuple[str | None, ...] = ()

    @property
    def unfinished(self) -> bool:
        """An answer was cut short (length limit, stopped, error) or a user turn has no answer on a side."""
        if any(reason not in FINISHED for reason in self.finish_reasons):
            return True
        return any(not conversation or conversation[-1]["role"] != "assistant" for conversation in (self.conversation_a, self.conversation_b))


@dataclass(frozen=True)
class ExportFilters:
    """Which battles an export keeps. The defaults are the safe choice for training data."""

    include_named: bool = False        # side-by-side votes saw the model names
    include_leaked: bool = False       # an answer revealed a model's identity
    include_errored: bool = False
    include_unfinished: bool = False
    include_moderated: bool = False
    since: datetime | None = None      # votes at or after
    until: datetime | None = None      # votes before
    models: frozenset[str] | None = None           # keep battles whose two models are both listed
    exclude_models: frozenset[str] = frozenset()   # drop battles involving any of these
    daily_cap: int | None = None       # at most this many votes per judge per UTC day (in vote order)
    max_per_prompt: int | None = None  # at most this many battles per identical prompt (in vote order)
    min_turns: int = 1
    language: str | None = None

    def describe(self) -> list[str]:
        """The filters in words, for the summary and the datasheet."""
        lines = [
            "anonymous battles only" if not self.include_named else "anonymous and side-by-side (named) battles",
            "identity-leaked battles " + ("kept" if self.include_leaked else "dropped"),
            "battles with a backend error " + ("kept" if self.include_errored else "dropped"),
            "unfinished answers (cut at the length limit, stopped, missing) " + ("kept" if self.include_unfinished else "dropped"),
            "moderated battles " + ("kept" if self.include_moderated else "dropped"),
        ]
        if self.since or self.until:
            lines.append(f"votes from {self.since.isoformat() if self.since else 'the start'} to {self.until.isoformat() if self.until else 'now'}")
        if self.models:
            lines.append("only battles between " + ", ".join(sorted(self.models)))
        if self.exclude_models:
            lines.append("no battles involving " + ", ".join(sorted(self.exclude_models)))
        if self.daily_cap:
            lines.append(f"at most {self.daily_cap} votes per judge per day")
        if self.max_per_prompt:
            lines.append(f"at most {self.max_per_prompt} battles per identical prompt")
        if self.min_turns > 1:
            lines.append(f"at least {self.min_turns} turns")
        if self.language:
            lines.append(f"language {self.language}")
        return lines


@dataclass
class Drops:
    """Battles left out, per reason."""

    counts: Counter = field(default_factory=Counter)

    def add(self, reason: str, n: int = 1) -> None:
        self.counts[reason] += n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class _Caps:
    """Per-judge-per-day and per-prompt counters for the two caps (only the keys seen so far)."""

    def __init__(self, filters: ExportFilters) -> None:
        self.filters = filters
        self.judge_days: Counter = Counter()
        self.prompts: Counter = Counter()

    def reason(self, battle: ExportedBattle) -> str | None:
        if self.filters.daily_cap:
            key = (battle.judge, day_of(battle.voted_at))
            if self.judge_days[key] >= self.filters.daily_cap:
                return "judge's daily vote cap reached"
            self.judge_days[key] += 1
        if self.filters.max_per_prompt and battle.prompt_hash:
            if self.prompts[battle.prompt_hash] >= self.filters.max_per_prompt:
                return "duplicate prompt (cap per prompt reached)"
            self.prompts[battle.prompt_hash] += 1
        return None


def drop_reason(battle: ExportedBattle, filters: ExportFilters) -> str | None:
    """Why *filters* drop *battle* (the first reason that applies), or None to keep it."""
    if battle.mode != "anony" and not filters.include_named:
        return "side-by-side (names visible)"
    if battle.leak_flag and not filters.include_leaked:
        return "identity leak"
    if battle.error_flag and not filters.include_errored:
        return "backend error"
    if battle.moderation_flag and not filters.include_moderated:
        return "moderated"
    if not filters.include_unfinished and battle.unfinished:
        return "unfinished answer"
    voted = _aware(battle.voted_at)
    if (filters.since and voted < _aware(filters.since)) or (filters.until and voted >= _aware(filters.until)):
        return "outside the date range"
    if filters.models is not None and not {battle.model_a, battle.model_b} <= filters.models:
        return "model not in --models"
    if {battle.model_a, battle.model_b} & filters.exclude_models:
        return "model in --exclude-models"
    if battle.turns < filters.min_turns:
        return "fewer turns than --min-turns"
    if filters.language and battle.language != filters.language:
        return "other language"
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def count_voted(store: Store) -> int:
    """Voted battles in the store (the progress bar's total)."""
    from sqlalchemy import func

    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Vote)) or 0)


def stream_battles(store: Store, filters: ExportFilters, drops: Drops, *, order: Literal["vote", "prompt"] = "vote",
                   chunk: int = 2000, on_read=None) -> Iterator[ExportedBattle]:  # noqa: ANN001 - progress callback
    """Voted battles that pass *filters*, in vote order (or grouped by prompt hash), counting the dropped ones.

    *on_read(n)* is called after each chunk with the number of battles read (kept or not).
    """
    caps = _Caps(filters)
    for battles in _chunks(store, order, chunk):
        kept = []
        for battle in battles:
            reason = drop_reason(battle, filters) or caps.reason(battle)
            if reason:
                drops.add(reason)
            else:
                kept.append(battle)
        yield from kept
        if on_read:
            on_read(len(battles))


_COLUMNS = (Vote.id, Vote.battle_id, Vote.model_a, Vote.model_b, Vote.winner, Judge.judge_hash, Vote.mode, Vote.turns,
            Vote.language, Vote.leak_flag, Vote.error_flag, Battle.moderation_flag, Vote.created_at, Vote.prompt_hash)


def _chunks(store: Store, order: str, chunk: int) -> Iterator[list[ExportedBattle]]:
    base = select(*_COLUMNS).join(Battle, Battle.id == Vote.battle_id).join(Judge, Judge.id == Vote.judge_id)
    last: tuple = (0,) if order == "vote" else ("", 0)
    while True:
        if order == "vote":
            query = base.where(Vote.id > last[0]).order_by(Vote.id)
        else:  # prompt order: battles without a hash last would need NULL handling; they cannot be grouped anyway
            query = base.where(Vote.prompt_hash.is_not(None), tuple_(Vote.prompt_hash, Vote.id) > tuple_(*last)).order_by(Vote.prompt_hash, Vote.id)
        with store.engine.connect() as conn:
            rows = conn.execute(query.limit(chunk)).all()
            if not rows:
                return
            transcripts = _transcripts(conn, [row.battle_id for row in rows])
        battles = []
        for row in rows:
            sides = transcripts.get(row.battle_id, {})
            (conversation_a, reasons_a), (conversation_b, reasons_b) = sides.get("a", ([], [])), sides.get("b", ([], []))
            battles.append(ExportedBattle(
                battle_id=row.battle_id, vote_id=row.id, model_a=row.model_a, model_b=row.model_b, winner=row.winner,
                judge=row.judge_hash, mode=row.mode, turns=row.turns, language=row.language, leak_flag=bool(row.leak_flag),
                error_flag=bool(row.error_flag), moderation_flag=bool(row.moderation_flag), voted_at=_aware(row.created_at),
                prompt_hash=row.prompt_hash, conversation_a=conversation_a, conversation_b=conversation_b,
                finish_reasons=tuple(reasons_a) + tuple(reasons_b),
            ))
        yield battles
        tail = rows[-1]
        last = (tail.id,) if order == "vote" else (tail.prompt_hash, tail.id)


def _transcripts(conn, battle_ids: list[str]) -> dict[str, dict[str, tuple[list[dict[str, str]], list[str | None]]]]:  # noqa: ANN001
    """battle id → side → (current messages as OpenAI dicts, finish reasons of the assistant messages)."""
    query = (
        select(Conversation.battle_id, Conversation.side, Conversation.system_prompt, Message.role, Message.content, Message.finish_reason)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.battle_id.in_(battle_ids), Message.superseded.is_(False))
        .order_by(Conversation.battle_id, Conversation.side, Message.position)
    )
    out: dict[str, dict[str, tuple[list[dict[str, str]], list[str | None]]]] = {}
    for battle_id, side, system_prompt, role, content, finish_reason in conn.execute(query):
        sides = out.setdefault(battle_id, {})
        if side not in sides:
            sides[side] = ([{"role": "system", "content": system_prompt}] if system_prompt else [], [])
        messages, reasons = sides[side]
        messages.append({"role": role, "content": content})
        if role == "assistant":
            reasons.append(finish_reason)
    return out


def day_of(moment: datetime) -> date:
    return _aware(moment).astimezone(timezone.utc).date()
