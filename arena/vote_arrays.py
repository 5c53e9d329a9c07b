"""Per-vote arrays for the leaderboard's per-vote paths (online Elo, style control).

Most of the leaderboard reads aggregated counts, but online Elo needs every
vote in order and style control every vote's style counts: millions of rows.
Through Python's ``sqlite3`` the cost of such a read is one Python object per
value, so on SQLite the values are packed into a few 64-bit integers by the
query itself (model names become small codes through a join with a temporary
table of the category's models) and unpacked with numpy: about half the time
of fetching the plain columns.

PostgreSQL reads plain columns through ADBC (Arrow), which has no per-value
cost, so it needs no packing. Any surprise on the packed path (a model that
is not in the category's counts, an unknown winner) falls back to the plain path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

import numpy as np
from sqlalchemy import ColumnElement, Engine, func, select

from arena.coded import encode
from arena.columnar import raw_cursor, read_columns
from arena.domain import OUTCOME_SCORE, WINNERS
from arena.ratings import outcome_scores
from arena.sqlite_reader import read_packed, read_packed_parallel
from arena.tables import Vote

log = logging.getLogger(__name__)

STYLE_FIELDS = ("len", "headers", "lists", "bold")
# Per field, the largest value stored: the store clamps style counts to [0, limit] on write,
# so the packed read can rely on each value's bit width.
STYLE_LIMITS = ((1 << 31) - 1, (1 << 21) - 1, (1 << 21) - 1, (1 << 21) - 1)
_CODE_BITS = 16        # model codes: up to 65,534 models
_COUNT_BITS = 21       # markdown counts (STYLE_LIMITS)
_UNKNOWN = (1 << _CODE_BITS) - 1
_BAD_WINNER = 255


@dataclass(frozen=True)
class VoteArrays:
    """One category's votes as arrays, in vote order, with no Python object per vote."""

    models: list[str]              # model code → name
    a: np.ndarray                  # model A's code per vote (int64)
    b: np.ndarray                  # model B's code per vote
    score: np.ndarray              # model A's score: 1, ½ or 0
    last_id: int                   # every vote with an id up to this one has been considered
    style_a: np.ndarray | None = None  # (votes, 4) int32: length, headers, list items, bold of answer A
    style_b: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.a)

    def extended(self, newer: VoteArrays) -> VoteArrays:
        """These votes followed by *newer* ones (read with ``after_id=self.last_id``), codes renumbered to the union of models."""
        if len(newer) == 0:
            return replace(self, last_id=max(self.last_id, newer.last_id))
        models = sorted(set(self.models) | set(newer.models))
        index = {name: i for i, name in enumerate(models)}
        old = np.array([index[m] for m in self.models], dtype=np.int64)
        new = np.array([index[m] for m in newer.models], dtype=np.int64)
        styled = self.style_a is not None and newer.style_a is not None
        return VoteArrays(
            models=models,
            a=np.concatenate([old[self.a], new[newer.a]]),
            b=np.concatenate([old[self.b], new[newer.b]]),
            score=np.concatenate([self.score, newer.score]),
            last_id=max(self.last_id, newer.last_id),
            style_a=np.concatenate([self.style_a, newer.style_a]) if styled else None,
            style_b=np.concatenate([self.style_b, newer.style_b]) if styled else None,
        )


PACKED_MIN_ROWS = 50_000      # below this many candidate ids the plain read is as fast and needs no model list
PARALLEL_MIN_ROWS = 400_000   # from this many, a helper process reads half of them (see arena.sqlite_reader)


def read_vote_arrays(engine: Engine, where: ColumnElement[bool], *, models: Callable[[], list[str]], style: bool = False,
                     after_id: int = 0, created_before: datetime | None = None) -> VoteArrays:
    """Votes matching *where* with ``id > after_id`` (and created before *created_before*), in id order.

    *models* returns every model these votes may involve (called only by the
    packed path, which codes them; a vote with another model sends the read
    down the plain path).
    """
    if engine.dialect.name == "sqlite" and created_before is None:
        with engine.connect() as conn:
            upper = conn.scalar(select(func.max(Vote.id))) or 0
        if upper - after_id >= PACKED_MIN_ROWS:
            arrays = _read_packed_sqlite(engine, where, models=models(), style=style, after_id=after_id, upper=upper)
            if arrays is not None:
                return arrays
    return _read_plain(engine, where, style=style, after_id=after_id, created_before=created_before)


def _read_plain(engine: Engine, where: ColumnElement[bool], *, style: bool, after_id: int,
                created_before: datetime | None) -> VoteArrays:
    names = ["id", "model_a", "model_b", "winner"]
    if style:
        names += [f"{field}_{side}" for field in STYLE_FIELDS for side in "ab"]
    query = select(*[getattr(Vote, name) for name in names]).where(where, Vote.id > after_id).order_by(Vote.id)
    if created_before is not None:
        query = query.where(Vote.created_at < created_before)
    columns = read_columns(engine, query, names)
    model_a, model_b = encode(columns["model_a"]), encode(columns["model_b"])
    models = sorted(set(model_a.labels) | set(model_b.labels))
    index = {name: i for i, name in enumerate(models)}
    score = outcome_scores(columns["winner"])
    ids = columns["id"]
    style_a = _stack([columns[f"{field}_a"] for field in STYLE_FIELDS]) if style else None
    style_b = _stack([columns[f"{field}_b"] for field in STYLE_FIELDS]) if style else None
    return VoteArrays(models=models, a=model_a.recode(index), b=model_b.recode(index), score=score,
                      last_id=int(ids[-1]) if len(ids) else after_id, style_a=style_a, style_b=style_b)


def _stack(columns: list[np.ndarray]) -> np.ndarray:
    return np.column_stack([np.asarray(c, dtype=np.int32) for c in columns]) if len(columns[0]) else np.zeros((0, 4), np.int32)


def _read_packed_on(engine: Engine, sql: str, low: int, high: int, codes: list[tuple[str, int]], columns: int) -> np.ndarray:
    """The packed query on one of the engine's own connections (an in-memory database has no file to share)."""
    chunks: list[np.ndarray] = []
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS arena_model_code (name TEXT PRIMARY KEY, code INTEGER NOT NULL) WITHOUT ROWID")
        conn.exec_driver_sql("DELETE FROM arena_model_code")
        if codes:
            conn.exec_driver_sql("INSERT INTO arena_model_code (name, code) VALUES (?, ?)", codes)
        cursor = raw_cursor(conn)
        try:
            cursor.execute(sql, (low, high))
            while rows := cursor.fetchmany(200_000):
                chunks.append(np.array(rows, dtype=np.int64))
        finally:
            cursor.close()
        conn.rollback()  # the temporary table's rows are not needed after the read
    return np.concatenate(chunks) if chunks else np.zeros((0, columns), np.int64)


def _read_packed_sqlite(engine: Engine, where: ColumnElement[bool], *, models: list[str], style: bool,
                        after_id: int, upper: int) -> VoteArrays | None:
    """The packed read (SQLite), or None when the data does not fit the packing.

    Ids are bounded above by *upper*, the newest vote id at the start: SQLite has one
    writer and assigns ids in commit order, so every vote up to that id is
    visible, and the bound is the point up to which the votes were considered.
    """
    names = sorted(set(models))
    if len(names) >= _UNKNOWN:
        return None
    winner_code = " ".join(f"WHEN '{w}' THEN {i}" for i, w in enumerate(WINNERS))
    packed = [
        f"((COALESCE(ca.code, {_UNKNOWN}) << 24) | (COALESCE(cb.code, {_UNKNOWN}) << 8)"
        f" | (CASE votes.winner {winner_code} ELSE {_BAD_WINNER} END))"
    ]
    if style:  # no field can spill into the next one: the store clamps them to STYLE_LIMITS on write
        packed.append("((votes.len_a << 32) | votes.len_b)")
        packed.append(f"((votes.headers_a << {2 * _COUNT_BITS}) | (votes.headers_b << {_COUNT_BITS}) | votes.lists_a)")
        packed.append(f"((votes.lists_b << {2 * _COUNT_BITS}) | (votes.bold_a << {_COUNT_BITS}) | votes.bold_b)")
    condition = where.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    sql = (f"SELECT {', '.join(packed)} FROM votes"
           " LEFT JOIN arena_model_code AS ca ON ca.name = votes.model_a"
           " LEFT JOIN arena_model_code AS cb ON cb.name = votes.model_b"
           f" WHERE ({condition}) AND votes.id > ? AND votes.id <= ? ORDER BY votes.id")
    codes = [(name, i) for i, name in enumerate(names)]
    database = engine.url.database
    if database and database != ":memory:":
        read = read_packed_parallel if upper - after_id >= PARALLEL_MIN_ROWS else read_packed
        data = read(database, sql, after_id, upper, codes, len(packed))
    else:
        data = _read_packed_on(engine, sql, after_id, upper, codes, len(packed))
    first = data[:, 0]
    a, b, outcome = first >> 24, (first >> 8) & _UNKNOWN, first & 0xFF
    if (a == _UNKNOWN).any() or (b == _UNKNOWN).any() or (outcome == _BAD_WINNER).any():
        log.info("packed vote read found a model or winner outside the category's counts; reading plain columns")
        return None
    score = np.array([OUTCOME_SCORE[w] for w in WINNERS])[outcome]
    arrays = dict(models=names, a=a, b=b, score=score, last_id=max(upper, after_id))
    if style:
        lengths, counts_1, counts_2 = data[:, 1], data[:, 2], data[:, 3]
        mask = (1 << _COUNT_BITS) - 1
        style_a, style_b = np.empty((len(data), 4), np.int32), np.empty((len(data), 4), np.int32)
        style_a[:, 0], style_b[:, 0] = lengths >> 32, lengths & ((1 << 32) - 1)
        style_a[:, 1], style_b[:, 1] = counts_1 >> (2 * _COUNT_BITS), (counts_1 >> _COUNT_BITS) & mask
        style_a[:, 2], style_b[:, 2] = counts_1 & mask, counts_2 >> (2 * _COUNT_BITS)
        style_a[:, 3], style_b[:, 3] = (counts_2 >> _COUNT_BITS) & mask, counts_2 & mask
        arrays["style_a"], arrays["style_b"] = style_a, style_b
    return VoteArrays(**arrays)
