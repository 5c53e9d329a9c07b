"""models.yaml at run time: validate, then switch the running arena to it, or keep the old one.

An admin edits models.yaml; a watcher notices the change (modification time
and size, polled every ``ARENA_MODELS_WATCH_INTERVAL`` seconds) or the Admin
tab's Reload button asks, and :meth:`ModelsReloader.reload` validates the file
first. A file with an error changes nothing: the old configuration stays
active and the error (naming file, model and field) is kept for the admin to
see. Battles already running keep the models they started with. What else
derives from the file (the background judges) follows it through
:meth:`ModelsReloader.on_reload`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from arena.config import ConfigError, load_catalogue
from arena.service import Arena

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    message: str
    at: datetime


class ModelsReloader:
    def __init__(self, arena: Arena, path: str | Path) -> None:
        self.arena = arena
        self.path = Path(path)
        self.last: ReloadResult | None = None
        self._seen = self._signature()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.version = 0  # how many reloads were applied
        self._listeners: list[Callable[[int], None]] = []

    def on_reload(self, listener: Callable[[int], None]) -> None:
        """Call *listener(version)* after each applied reload, in the reloading thread (it should only take note).

        Why: parts built from the file besides the pool (the background judges) must follow an edit, and a
        listener is told the moment the pool holds the new catalogue and backends, never while it changes.
        """
        self._listeners.append(listener)

    def reload(self, *, probe: bool = True) -> ReloadResult:
        """Validate models.yaml and switch to it; on error keep the running configuration."""
        with self._lock:
            self._seen = self._signature()
            try:
                catalogue = load_catalogue(self.path)
            except ConfigError as exc:
                result = ReloadResult(False, f"models.yaml not reloaded, the previous configuration stays active: {exc}", _now())
                log.error("%s", result.message)
                self.last = result
                return result
            fresh = self.arena.apply_catalogue(catalogue)
            if probe and fresh:
                asyncio.run(self.arena.pool.refresh())
                asyncio.run(self.arena.pool.warm_up())
            names = ", ".join(fresh) or "none"
            judges = ", ".join(j.name for j in catalogue.judges if j.enabled) or "none"
            result = ReloadResult(True, f"{self.path}: {len(catalogue.models)} models; new or changed: {names}; "
                                        f"judges: {judges}", _now())
            log.info("%s", result.message)
            self.last = result
            self.version += 1
            self._tell(self.version)
            return result

    def _tell(self, version: int) -> None:
        for listener in self._listeners:
            try:
                listener(version)
            except Exception:  # one listener's bug must not undo an applied reload or silence the others
                log.exception("a models.yaml reload listener failed")

    def changed(self) -> bool:
        return self._signature() != self._seen

    def watch(self, interval: float) -> None:
        """Reload whenever the file changes, checking every *interval* seconds in a daemon thread."""
        if interval <= 0 or self._thread is not None:
            return

        def loop() -> None:
            while not self._stopping.wait(interval):
                if self.changed():
                    try:
                        self.reload()
                    except Exception:  # a watcher must never take the app down
                        log.exception("reloading %s failed", self.path)

        self._thread = threading.Thread(target=loop, name="models-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _signature(self) -> tuple[float, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size


def _now() -> datetime:
    return datetime.now(timezone.utc)
