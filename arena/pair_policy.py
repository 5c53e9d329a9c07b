"""Which pair an anonymous battle gets: by the models' weights, or actively (``pairing: sampling: active``).

Active pairing needs the live leaderboard, and a leaderboard costs a fit, so
no draw ever computes one: a watcher thread rebuilds the gain table
(:mod:`arena.active_pairing`) once ``refresh_votes`` new votes have arrived,
or ``refresh_seconds`` after the last build if any vote arrived since, and
a draw only looks its pair up (the probabilities over the current candidates
are cached until the table or the candidates change). Until a table exists
(no votes yet, fewer than two models with votes, a failed fit) draws follow
the weights, and the reason is logged once, not per draw. A refresh whose
leaderboard read raises (the store away for a moment) keeps the previous table.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable, Protocol, Sequence

import numpy as np

from arena.active_pairing import PairTable, active_probabilities, build_table, draw_pair
from arena.config import PairingSpec
from arena.leaderboard import Leaderboard, LeaderboardQuery
from arena.pairing import Candidate, sample_pair

log = logging.getLogger(__name__)

POLL_S = 2.0  # how often the watcher reads the newest vote id (one indexed query)


class LeaderboardSource(Protocol):
    """What the policy reads: :class:`arena.leaderboard.LeaderboardService` in the app, a stand-in in tests."""

    def votes_version(self) -> int: ...
    def get(self, query: LeaderboardQuery = ...) -> Leaderboard: ...


class PairPolicy:
    """Draws (model_a, model_b) for anonymous battles under the catalogue's ``pairing:`` section."""

    def __init__(self, spec: PairingSpec | None = None, source: LeaderboardSource | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec or PairingSpec()
        self.source = source
        self.clock = clock
        self._table: PairTable | None = None
        self._inputs: tuple[list[str], np.ndarray, np.ndarray] | None = None  # the last leaderboard's matrices
        self._built_version = 0
        self._built_at = float("-inf")
        self._cached: tuple[object, list[str], np.ndarray] | None = None  # (key, names, cumulative)
        self._why = "no leaderboard read yet"
        self._logged: str | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, source: LeaderboardSource) -> None:
        """Read the live leaderboard from *source* (the app's shared service, so its caches serve both)."""
        self.source = source

    def use(self, spec: PairingSpec) -> None:
        """Switch to a reloaded ``pairing:`` section; a new rule is applied to the last leaderboard at once."""
        with self._lock:
            rule_changed = spec.rule != self.spec.rule
            self.spec = spec
            if rule_changed and self._inputs is not None:
                self._install(build_table(*self._inputs, rule=spec.rule), self._built_version)

    @property
    def table(self) -> PairTable | None:
        return self._table

    def draw(self, candidates: Sequence[Candidate], rng: random.Random | None = None) -> tuple[str, str]:
        """A pair for an anonymous battle; never computes a leaderboard (see :meth:`refresh`)."""
        rng = rng or random.SystemRandom()
        table = self._table
        if self.spec.sampling != "active":
            return sample_pair(candidates, rng)
        if table is None:
            self._note_fallback(self._why)
            return sample_pair(candidates, rng)
        key = (id(table), self.spec.floor, tuple(candidates))
        cached = self._cached
        if cached is None or cached[0] != key:
            names, probabilities = active_probabilities(candidates, table, self.spec.floor)
            cached = (key, names, np.cumsum(probabilities.ravel()))
            self._cached = cached
        return draw_pair(cached[1], cached[2], rng)

    def due(self, version: int) -> bool:
        """Whether a rebuild is due at newest vote id *version*: enough new votes, or old enough with some."""
        new = version - self._built_version
        if self._table is None:
            return new > 0
        return new >= self.spec.refresh_votes or (new > 0 and self.clock() - self._built_at >= self.spec.refresh_seconds)

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild the table from the live leaderboard if due (the watcher's job, off the voters' path); True if rebuilt."""
        if self.spec.sampling != "active" or self.source is None:
            return False
        version = self.source.votes_version()
        if version <= 0:
            self._why = "no votes yet"
            return False
        if not (force or self.due(version)):
            return False
        try:
            ratings = self.source.get(LeaderboardQuery()).ratings
            inputs = (list(ratings.models), ratings.battle_counts, ratings.predicted)
            table = build_table(*inputs, rule=self.spec.rule)
        except Exception as exc:  # noqa: BLE001 - a failed fit must not stop battles: keep the last table, or the weights
            self._why = f"the leaderboard could not be computed ({type(exc).__name__}: {exc})"
            log.warning("pairing: %s; keeping %s", self._why, "the previous table" if self._table else "the weights")
            return False
        with self._lock:
            self._inputs = inputs
            self._install(table, version)
        return table is not None

    def _install(self, table: PairTable | None, version: int) -> None:
        self._built_version, self._built_at = version, self.clock()
        if table is None:
            self._why = "fewer than two models have votes, or the fit gave no usable intervals"
            self._table = None
            return
        self._table, self._logged = table, None
        log.info("pairing: active table (%s rule) from %d battles among %d models", self.spec.rule, table.votes, len(table.models))

    def _note_fallback(self, why: str) -> None:
        if self._logged != why:
            self._logged = why
            log.info("pairing: active sampling cannot be computed yet (%s); drawing by the weights", why)

    def watch(self, interval: float = POLL_S) -> None:
        """Refresh in a daemon thread, checking the newest vote id every *interval* seconds."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stopping.wait(interval):
                try:
                    self.refresh()
                except Exception:  # the watcher must never die; the next tick tries again
                    log.exception("pairing: refreshing the active table failed")

        self._thread = threading.Thread(target=loop, name="pairing-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
