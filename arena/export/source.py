"""Voted battles with their transcripts, streamed from the store in chunks, with the export filters.

Memory stays flat: battles are read in keyset-paginated chunks (by vote id, or
by prompt hash for the K-wise grouping) and each chunk's messages in one more
query. Every battle that a filter drops is counted under its reason, so an
export can say exactly what it left out and why.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterator, Literal, Sequence

import orjson
from sqlalchemy import ColumnElement, LargeBinary, ScalarSelect, Text, bindparam, cast, func, select, tuple_

from arena.columnar import raw_cursor
from arena.export.labels import attach_verdicts, describe_labels, label_reason
from arena.snapshot import assemble, is_unfinished, split_prompt
from arena.store import Store
from arena.tables import Conversation, Judge, Message, Vote

ExportOrder = Literal["vote", "prompt"]  # by vote id, or grouped by prompt hash
Turns = Literal["last", "all"]  # what a pairwise or KTO completion holds in a multi-turn battle


@dataclass(slots=True)
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
    prompt: list[dict[str, str]]   # the messages both sides share (up to the first user turn where they part)
    rest_a: list[dict[str, str]]   # side a after the prompt: its answers (and, in a multi-turn battle, later turns)
    rest_b: list[dict[str, str]]
    unfinished: bool = False  # an answer was cut short (length limit, stopped, error) or a side has no last answer
    system_a: list[dict[str, str]] = field(default_factory=list)  # side a's own system prompt, when the sides' differ
    system_b: list[dict[str, str]] = field(default_factory=list)
    ai: dict[str, str] = field(default_factory=dict)  # AI judge -> its done verdict ("a", "b", "tie"; original sides)
    human_winner: str = ""  # the human vote when --labels ai:NAME replaced *winner* with the judge's

    @property
    def conversation_a(self) -> list[dict[str, str]]:
        return self.system_a + self.prompt + self.rest_a

    @property
    def conversation_b(self) -> list[dict[str, str]]:
        return self.system_b + self.prompt + self.rest_b


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
    max_turns: int | None = None       # battles with at most this many user turns (1: single-turn pairs only)
    language: str | None = None
    turns: Turns = "last"              # pairwise and KTO rows: only the final answers as completions, or whole ("all")
    labels: str = "human"              # whose preference: human, ai:NAME (the judge's verdict), agree:NAME (both agree)
    exclude_judges: frozenset[str] = frozenset()  # judge hashes whose battles are dropped (--exclude-flagged-judges)

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
        if self.max_turns is not None:
            lines.append(f"at most {self.max_turns} turn{'s' if self.max_turns > 1 else ''}")
        lines.append("pairwise and KTO completions: " + ("the final answers only, earlier turns in the prompt" if self.turns == "last"
                                                          else "each side's whole conversation after the first prompt"))
        if self.language:
            lines.append(f"language {self.language}")
        if self.labels != "human":
            lines.append("labels: " + describe_labels(self.labels))
        if self.exclude_judges:
            lines.append(f"battles of {len(self.exclude_judges)} voters flagged as suspicious dropped (docs/suspicion.md)")
        return lines


@dataclass
class Drops:
    """Battles left out, per reason."""

    counts: Counter = field(default_factory=Counter)

    def add(self, reason: str, n: int = 1) -> None:
        self.counts[reason] += n


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
    if (filters.since and battle.voted_at < _aware(filters.since)) or (filters.until and battle.voted_at >= _aware(filters.until)):
        return "outside the date range"
    if filters.models is not None and not {battle.model_a, battle.model_b} <= filters.models:
        return "model not in --models"
    if {battle.model_a, battle.model_b} & filters.exclude_models:
        return "model in --exclude-models"
    if battle.turns < filters.min_turns:
        return "fewer turns than --min-turns"
    if filters.max_turns is not None and battle.turns > filters.max_turns:
        return "more turns than --max-turns"
    if filters.language and battle.language != filters.language:
        return "other language"
    if battle.judge in filters.exclude_judges:
        return "voter flagged as suspicious"
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def count_voted(store: Store) -> int:
    """Voted battles in the store (the progress bar's total)."""
    from sqlalchemy import func

    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Vote)) or 0)


def stream_battles(store: Store, filters: ExportFilters, drops: Drops, *, order: ExportOrder = "vote",
                   chunk: int = 2000, on_read=None, on_kept=None,  # noqa: ANN001 - callbacks
                   id_range: tuple[int, int | None] = (0, None)) -> Iterator[ExportedBattle]:
    """Voted battles that pass *filters*, in vote order (or grouped by prompt hash), counting the dropped ones.

    *on_read(n)* is called after each chunk with the number of battles read (kept or not), *on_kept(battles)*
    with the chunk's kept battles before they are yielded.
    *id_range* ``(low, high)`` limits the vote ids to ``low < id <= high`` (``high`` None: no limit).
    """
    caps = _Caps(filters) if filters.daily_cap or filters.max_per_prompt else None
    for battles in _chunks(store, order, chunk, id_range):
        kept = []
        for battle in battles:
            reason = (drop_reason(battle, filters) or label_reason(battle, filters.labels)
                      or (caps.reason(battle) if caps else None))
            if reason:
                drops.add(reason)
            else:
                kept.append(battle)
        if on_kept:
            on_kept(kept)
        yield from kept
        if on_read:
            on_read(len(battles))


_COLUMNS = (Vote.id, Vote.battle_id, Vote.model_a, Vote.model_b, Vote.winner, Judge.judge_hash, Vote.mode, Vote.turns,
            Vote.language, Vote.leak_flag, Vote.error_flag, Vote.moderation_flag, Vote.created_at, Vote.prompt_hash)


def _transcript_json(dialect: str) -> ScalarSelect[Any]:
    """The battle's current messages (both sides) as one JSON array, built by the database.

    One text value per battle instead of one row per message: the database
    does the escaping in C and orjson the parsing, which is what makes the
    export fast. Each element carries its side and position (aggregate order
    is not guaranteed everywhere), sorted after parsing.
    """
    fields = ["s", Conversation.side, "p", Message.position, "r", Message.role, "c", Message.content,
              "f", Message.finish_reason, "y", Conversation.system_prompt]
    aggregate: ColumnElement[Any]
    if dialect == "postgresql":
        aggregate = cast(func.json_agg(func.json_build_object(*fields)), Text)
    else:
        aggregate = func.json_group_array(func.json_object(*fields))
    return (
        select(aggregate)
        .select_from(Conversation)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.battle_id == Vote.battle_id, Message.superseded.is_(False))
        .scalar_subquery()
    )


def _chunks(store: Store, order: ExportOrder, chunk: int, id_range: tuple[int, int | None]) -> Iterator[list[ExportedBattle]]:
    """Chunks of battles; a reader thread fetches the next chunk while this one is processed.

    The database works on the next chunk (outside the interpreter lock) while
    Python turns the current one into rows, so the two cores share the work.
    The queue holds at most two chunks: memory stays flat.
    """
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            for rows in _raw_chunks(store, order, chunk, id_range):
                while not stop.is_set():
                    try:
                        chunks.put(rows, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            chunks.put(None)
        except BaseException as exc:  # noqa: BLE001 - reader thread: whatever it hits is handed to the consumer and raised there
            chunks.put(exc)

    reader = threading.Thread(target=read, name="export-reader", daemon=True)
    reader.start()
    try:
        while (rows := chunks.get()) is not None:
            if isinstance(rows, BaseException):
                raise rows
            battles = [_battle(row) for row in rows]
            attach_verdicts(store, battles)
            yield battles
    finally:
        stop.set()


def _raw_chunks(store: Store, order: ExportOrder, chunk: int, id_range: tuple[int, int | None] = (0, None)) -> Iterator[Sequence[tuple]]:
    """Plain DB-API rows of the export query, keyset-paginated (no ORM or result processing per row)."""
    # The snapshot frozen with the vote; battles voted before snapshots existed fall back to their messages.
    transcript: ColumnElement[Any] = func.coalesce(Vote.transcript, _transcript_json(store.engine.dialect.name))
    if store.engine.dialect.name == "sqlite":  # bytes: orjson parses them without a str in between
        transcript = cast(transcript, LargeBinary)
    transcript = transcript.label("transcript")
    base = select(*_COLUMNS, transcript).join(Judge, Judge.id == Vote.judge_id)  # votes carry every fact: no battles join
    low, high = id_range
    if high is not None:
        base = base.where(Vote.id <= high)
    if order == "vote":
        query = base.where(Vote.id > bindparam("last_id")).order_by(Vote.id)
        last: dict[str, Any] = {"last_id": low}
    else:  # battles without a prompt hash cannot be grouped by prompt, so they are not read
        query = (base.where(Vote.prompt_hash.is_not(None), tuple_(Vote.prompt_hash, Vote.id) > tuple_(bindparam("last_hash"), bindparam("last_id")))
                 .order_by(Vote.prompt_hash, Vote.id))
        last = {"last_hash": "", "last_id": low}
        if low:
            query = query.where(Vote.id > low)
    with store.engine.connect() as conn:
        compiled = query.limit(chunk).compile(dialect=conn.dialect)  # once: only the keyset values change
        sql = str(compiled)
        positions = compiled.positiontup if compiled.positional else None  # a list whenever the driver is positional
        cursor = raw_cursor(conn)
        try:
            while True:
                parameters = compiled.construct_params(last)
                cursor.execute(sql, [parameters[name] for name in positions] if positions is not None else parameters)
                rows = cursor.fetchall()
                conn.rollback()  # end the read transaction between chunks: writers are never held back for long
                if not rows:
                    return
                yield rows
                tail = rows[-1]
                last = {"last_id": tail[0]} if order == "vote" else {"last_hash": tail[13], "last_id": tail[0]}
        finally:
            cursor.close()


def _battle(row: tuple) -> ExportedBattle:
    """One raw row of :func:`_raw_chunks` (columns in ``_COLUMNS`` order, then the transcript JSON)."""
    (vote_id, battle_id, model_a, model_b, winner, judge, mode, turns, language, leak, error, moderated, voted_at,
     prompt, transcript) = row
    if isinstance(voted_at, str):  # SQLite stores text
        voted_at = datetime.fromisoformat(voted_at)
    if voted_at.tzinfo is None:
        voted_at = voted_at.replace(tzinfo=timezone.utc)
    frozen = orjson.loads(transcript) if transcript else []
    if isinstance(frozen, dict):  # arena.snapshot (the hot path: no intermediate objects)
        return ExportedBattle(
            battle_id, vote_id, model_a, model_b, winner, judge, mode, turns, language, bool(leak), bool(error), bool(moderated),
            voted_at, prompt, frozen["p"], frozen["a"], frozen["b"], frozen["u"], frozen["sa"], frozen["sb"],
        )
    conversation_a, conversation_b, unfinished = _from_messages(frozen)  # one element per message from _transcript_json
    split = split_prompt(conversation_a, conversation_b)
    return ExportedBattle(
        battle_id, vote_id, model_a, model_b, winner, judge, mode, turns, language, bool(leak), bool(error), bool(moderated),
        voted_at, prompt, split.prompt, split.rest_a, split.rest_b, unfinished, split.system_a, split.system_b,
    )


def _from_messages(messages: list[dict]) -> tuple[list[dict[str, str]], list[dict[str, str]], bool]:
    """Conversations from :func:`_transcript_json`'s elements (any order)."""
    messages.sort(key=lambda message: (message["s"], message["p"]))
    conversation_a, conversation_b, reasons = assemble((m["s"], m["y"], m["r"], m["c"], m["f"]) for m in messages)
    return conversation_a, conversation_b, is_unfinished(reasons, conversation_a, conversation_b)


def day_of(moment: datetime) -> date:
    return _aware(moment).astimezone(timezone.utc).date()
