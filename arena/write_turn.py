"""Writers of one SQLite database take turns: threads on a lock, processes on a lock file beside the database.

Why: SQLite has one writer at a time, and a connection that finds the file
locked waits in SQLite's busy handler, which sleeps in steps of up to 100 ms.
Under load a write then slept long after the lock was free (p99 of concurrent
votes 180-240 ms; ``bench/votes.py --threads 6``). Queued here, a writer
starts the moment the previous one is done: the thread lock wakes the next
thread, and the kernel wakes the next process waiting on ``flock``.

Writers that do not use this (another tool on the same file) still meet the
busy handler, and the database stays correct either way: this is about
waiting, never about safety.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # Windows: threads still take turns; processes fall back to SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


class WriteTurn:
    """A reentrant context manager: inside it, this thread is the only writer among all that use *lock_path*.

    *lock_path* None (an in-memory database) means threads of this process only.
    """

    def __init__(self, lock_path: Path | None) -> None:
        self._threads = threading.RLock()
        self._depth = threading.local()
        self._file = None
        if lock_path is not None and fcntl is not None:
            try:
                self._file = open(lock_path, "ab")  # noqa: SIM115 - held for the store's lifetime
            except OSError as exc:
                log.warning("no lock file for SQLite writers at %s (%s); processes will wait in SQLite's busy handler",
                            lock_path, exc)

    def __enter__(self) -> None:
        self._threads.acquire()
        depth = getattr(self._depth, "n", 0)
        if depth == 0 and self._file is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise
        self._depth.n = depth + 1

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._depth.n -= 1
        if self._depth.n == 0 and self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
