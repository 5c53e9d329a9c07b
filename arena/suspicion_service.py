"""Suspicious voters from the store: the tests of :mod:`arena.suspicion` on the stored votes, cached per votes version.

The Admin tab lists the flagged voters with their evidence; the leaderboard
and the export leave their votes out on request (``--exclude-flagged-judges``,
``LeaderboardQuery.exclude_flagged_judges``). The votes tested are those of
one category (``overall`` by default: anonymous battles without a leak or an
error, the votes that count), and a flagged voter's votes are left out of
every category.

The votes are read once and then extended with newer ones where ids commit in
order (SQLite); elsewhere they are read afresh, which ADBC makes cheap. The
result is kept until a vote arrives; a caller that can live with a slightly
old answer (the leaderboard's refresh timer) passes *stale_votes*, and the
tests are then run again only once that many votes have arrived.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from arena.categories import DEFAULT_CATEGORY
from arena.coded import encode
from arena.ratings import Comparisons
from arena.store import OutcomeCount, Store
from arena.suspicion import SuspicionConfig, SuspicionReport, VoterVotes, detect, outcome_codes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlaggedVoter:
    """One flagged voter and the evidence, as the Admin tab and the CLI show it."""

    judge_id: int
    judge_hash: str
    votes: int
    pvalue: float
    qvalue: float
    strongest: str           # the test and checkpoint that spoke loudest
    tests: dict[str, float]  # each test's smallest p-value over the checkpoints
    share_a: float           # share of decisive votes for side A
    side_pvalue: float       # exact binomial test of that share against ½
    tie_share: float
    median_seconds: float    # median time to vote
    peak_per_minute: int     # most votes within any 60 s


@dataclass(frozen=True)
class Suspicion:
    """One run of the tests on the store."""

    version: int
    report: SuspicionReport
    flagged: list[FlaggedVoter]
    seconds: float

    @property
    def flagged_ids(self) -> frozenset[int]:
        return frozenset(v.judge_id for v in self.flagged)


class SuspicionService:
    """Runs the suspicious-voter tests on the store's votes of one category, caching the result per votes version."""

    def __init__(self, store: Store, *, category: str = DEFAULT_CATEGORY, config: SuspicionConfig | None = None) -> None:
        self.store, self.category, self.config = store, category, config or SuspicionConfig()
        self._kept: _Kept | None = None
        self._last: Suspicion | None = None
        self._lock = threading.Lock()

    def get(self, *, stale_votes: int = 0) -> Suspicion:
        """The tests' outcome for the current votes (or for votes at most *stale_votes* older)."""
        version = self.store.votes_version()
        with self._lock:
            last = self._last
            if last is not None and 0 <= version - last.version <= stale_votes:
                return last
            started = time.perf_counter()
            votes = self._votes()
            report = detect(votes, self.config)
            flagged = self._flagged(report)
            self._last = Suspicion(version=version, report=report, flagged=flagged, seconds=time.perf_counter() - started)
            log.info("suspicious voters: %d of %d tested voters flagged (%d votes) in %.2f s", len(flagged),
                     len(report.voters), report.total_votes, self._last.seconds)
            return self._last

    @property
    def last(self) -> Suspicion | None:
        """The most recent outcome (None before the first run)."""
        return self._last

    def flagged_judge_ids(self, *, stale_votes: int = 0) -> frozenset[int]:
        return self.get(stale_votes=stale_votes).flagged_ids

    def flagged_judge_hashes(self) -> frozenset[str]:
        return frozenset(v.judge_hash for v in self.get().flagged)

    def _votes(self) -> VoterVotes:
        """The category's votes with their judges, the kept ones extended by newer votes where that is safe."""
        kept = self._kept if self.store.commits_in_id_order else None
        newer = _Kept.of(self.store.voter_columns(self.category, after_id=kept.last_id if kept is not None else 0))
        self._kept = newer if kept is None else kept.extended(newer)
        return self._kept.voter_votes()

    def _flagged(self, report: SuspicionReport) -> list[FlaggedVoter]:
        picks = np.flatnonzero(report.flagged)
        ids = [int(report.voters[i]) for i in picks]
        hashes = self.store.judge_hashes(ids) if ids else {}
        s, t = report.signals, report.tested
        out = [FlaggedVoter(judge_id=judge, judge_hash=hashes.get(judge, ""), votes=int(s.votes[i]),
                            pvalue=float(t.pvalue[i]), qvalue=float(report.qvalue[i]), strongest=t.strongest[i],
                            tests={name: float(values[i]) for name, values in t.tests.items()}, share_a=float(s.share_a[i]),
                            side_pvalue=float(s.side_pvalue[i]), tie_share=float(s.tie_share[i]),
                            median_seconds=float(s.median_seconds[i]), peak_per_minute=int(s.peak_per_minute[i]))
               for judge, i in zip(ids, picks)]
        return sorted(out, key=lambda v: (v.qvalue, v.pvalue, -v.votes))


@dataclass(frozen=True)
class _Kept:
    """The votes read so far, as codes (no Python object per vote), and the last vote id among them."""

    last_id: int
    judge: np.ndarray
    models: list[str]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    seconds: np.ndarray
    at: np.ndarray

    @classmethod
    def of(cls, columns: dict[str, np.ndarray]) -> _Kept:
        """From the store's voter columns (:data:`arena.store.reads.VOTER_COLUMNS`)."""
        side_a, side_b = encode(columns["model_a"]), encode(columns["model_b"])
        models = sorted(set(side_a.labels) | set(side_b.labels))
        index = {name: i for i, name in enumerate(models)}
        ids = np.asarray(columns["id"], dtype=np.int64)
        return cls(last_id=int(ids[-1]) if len(ids) else 0, judge=np.asarray(columns["judge_id"], dtype=np.int64),
                   models=models, a=side_a.recode(index), b=side_b.recode(index), outcome=outcome_codes(columns["winner"]),
                   seconds=np.asarray(columns["time_to_vote_s"], dtype=float), at=np.asarray(columns["at"], dtype=float))

    def extended(self, newer: _Kept) -> _Kept:
        """These votes followed by *newer* ones, model codes renumbered to the union of both."""
        models = sorted(set(self.models) | set(newer.models))
        index = {name: i for i, name in enumerate(models)}
        old = np.array([index[m] for m in self.models], dtype=np.int64)
        new = np.array([index[m] for m in newer.models], dtype=np.int64)
        return _Kept(last_id=max(self.last_id, newer.last_id), judge=np.concatenate([self.judge, newer.judge]), models=models,
                     a=np.concatenate([old[self.a], new[newer.a]]), b=np.concatenate([old[self.b], new[newer.b]]),
                     outcome=np.concatenate([self.outcome, newer.outcome]), seconds=np.concatenate([self.seconds, newer.seconds]),
                     at=np.concatenate([self.at, newer.at]))

    def voter_votes(self) -> VoterVotes:
        """The tests' input; voters are judge ids (as text)."""
        ids, voter = np.unique(self.judge, return_inverse=True)
        return VoterVotes(voters=[str(i) for i in ids], models=self.models, voter=voter.astype(np.int64), a=self.a, b=self.b,
                          outcome=self.outcome, seconds=self.seconds, at=self.at)


def to_voter_votes(columns: dict[str, np.ndarray]) -> VoterVotes:
    """The store's voter columns (:data:`arena.store.reads.VOTER_COLUMNS`) as the tests' input; voters are judge ids."""
    return _Kept.of(columns).voter_votes()


def comparisons_without(store: Store, category: str, judge_ids: frozenset[int]) -> Comparisons:
    """The category's aggregated comparisons minus the votes of *judge_ids*: the counts table less their share."""
    columns = store.outcome_columns(category)
    counts: Counter[tuple[str, str, str]] = Counter()
    names = [encode(columns[name]).decode() for name in ("model_a", "model_b", "winner")]
    for a, b, w, n in zip(*names, columns["n"]):
        counts[(a, b, w)] += int(n)
    for row in store.judges_outcome_counts(category, judge_ids) if judge_ids else []:
        counts[(row.model_a, row.model_b, row.winner)] -= row.count
    return Comparisons.from_outcomes(OutcomeCount(a, b, w, n) for (a, b, w), n in counts.items())


__all__ = ["FlaggedVoter", "Suspicion", "SuspicionService", "comparisons_without", "to_voter_votes"]
