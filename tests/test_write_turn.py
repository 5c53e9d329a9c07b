"""Writers of one SQLite file take turns: threads of a process, and processes through the lock file."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from arena.store import Store, write_turn_for
from arena.write_turn import WriteTurn
from tests.helpers import PROJECT_ROOT

pytest.importorskip("fcntl")

HOLDER = """
import sys, time
from pathlib import Path
from arena.write_turn import WriteTurn
turn = WriteTurn(Path(sys.argv[1]))
with turn:
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_writer_in_another_process_is_waited_for(tmp_path: Path) -> None:
    """While another process holds the turn, this store's write waits for it (no SQLite busy handler in between).

    The store answers a health check first: a ping must leave the turn's lock file as it was.
    """
    database = tmp_path / "arena.sqlite3"
    store = Store(f"sqlite:///{database}")
    store.ping()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, f"{database}-write.lock", "0.6"], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with store.writing():
            waited = time.monotonic() - started
        assert holder.wait(10) == 0
    finally:
        holder.kill()
        store.close()
    assert waited > 0.3  # it waited for the other process's turn to end


def test_the_turn_is_reentrant_and_released_at_the_outermost_exit(tmp_path: Path) -> None:
    turn = WriteTurn(tmp_path / "db-write.lock")
    other = WriteTurn(tmp_path / "db-write.lock")  # another store on the same file (flock is per open file)
    got: list[bool] = []

    def try_other() -> None:
        got.append(other._threads.acquire(blocking=False))
        import fcntl

        try:
            fcntl.flock(other._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            got.append(True)
            fcntl.flock(other._file, fcntl.LOCK_UN)
        except BlockingIOError:
            got.append(False)
        other._threads.release()

    with turn:
        with turn:  # a nested write in the same thread must not deadlock
            pass
        probe = threading.Thread(target=try_other)
        probe.start()
        probe.join()
        assert got == [True, False]  # still held after the inner exit
    got.clear()
    probe = threading.Thread(target=try_other)
    probe.start()
    probe.join()
    assert got == [True, True]  # free after the outer one
    turn.close()
    other.close()


def test_only_files_get_a_lock_file(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    assert isinstance(write_turn_for(create_engine("sqlite://")), WriteTurn)
    assert write_turn_for(create_engine("sqlite://"))._file is None  # in memory: threads only
    on_file = write_turn_for(create_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}"))
    assert on_file._file is not None and (tmp_path / "a.sqlite3-write.lock").exists()
    on_file.close()
    assert not isinstance(write_turn_for(create_engine("postgresql+psycopg://u@127.0.0.1/x")), WriteTurn)
