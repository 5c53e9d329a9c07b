"""Reading a packed integer query from a SQLite file on two cores.

Turning millions of SQLite rows into Python tuples is bound by one core (the
interpreter lock), so the big per-vote reads split the id range in two: a
helper process reads the first half while this process reads the second.
The helper is a new interpreter (never a fork of a threaded server) running
this module, which imports only ``sqlite3`` and numpy, so it starts quickly.
"""

from __future__ import annotations

import gc
import io
import logging
import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def read_packed(database: str, sql: str, low: int, high: int, codes: list[tuple[str, int]], columns: int,
                *, chunk: int = 200_000) -> np.ndarray:
    """Rows of *sql* (integer columns; parameters: id low, id high) as an (n, columns) int64 array.

    *codes* fill the temporary ``arena_model_code`` table the query joins
    (temporary tables live outside the database file; the query only reads it).
    """
    connection = sqlite3.connect(database, timeout=30)
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived tuples would trigger full collections over and over
    try:
        connection.execute("CREATE TEMP TABLE arena_model_code (name TEXT PRIMARY KEY, code INTEGER NOT NULL) WITHOUT ROWID")
        connection.executemany("INSERT INTO arena_model_code (name, code) VALUES (?, ?)", codes)
        cursor = connection.execute(sql, (low, high))
        chunks = []
        while rows := cursor.fetchmany(chunk):
            chunks.append(np.array(rows, dtype=np.int64))
        return np.concatenate(chunks) if chunks else np.zeros((0, columns), np.int64)
    finally:
        connection.close()
        if collecting:
            gc.enable()


def read_packed_parallel(database: str, sql: str, low: int, high: int, codes: list[tuple[str, int]], columns: int) -> np.ndarray:
    """:func:`read_packed` over ids (low, high], the first half in a helper process, the rest here.

    The helper is a fresh interpreter running this module (``python -m
    arena.sqlite_reader``): arguments arrive pickled on its stdin and the array
    leaves as ``.npy`` on its stdout. If it cannot start or fails, this process
    reads that half too.
    """
    middle = (low + high) // 2
    job = (database, sql, low, middle, codes, columns)
    try:
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        helper = subprocess.Popen([sys.executable, "-m", "arena.sqlite_reader"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env)
        assert helper.stdin is not None and helper.stdout is not None, "both opened with PIPE"
        pickle.dump(job, helper.stdin)
        helper.stdin.close()
    except OSError as exc:
        log.warning("no helper process for the parallel read (%s); reading alone", exc)
        return read_packed(database, sql, low, high, codes, columns)
    second = read_packed(database, sql, middle, high, codes, columns)
    try:
        first = np.load(io.BytesIO(helper.stdout.read()))
    except (ValueError, OSError, EOFError) as exc:
        first = None
        log.warning("the helper process of the parallel read failed (%s); reading its half here", exc)
    helper.stdout.close()
    if helper.wait() != 0 or first is None:
        first = read_packed(*job)
    return np.concatenate([first, second])


def _serve_one_job() -> None:
    """The helper's side: one pickled job from stdin, its array as .npy on stdout."""
    job = pickle.load(sys.stdin.buffer)
    buffer = io.BytesIO()
    np.save(buffer, read_packed(*job))
    sys.stdout.buffer.write(buffer.getbuffer())
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _serve_one_job()
