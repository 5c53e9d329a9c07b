"""The judging worker: AI judges read voted battles from the queue in ``judgements``, in both answer orders.

Never on a voter's path: the CLI (``python -m arena judge``) or the app's
background task (:class:`BackgroundJudging`, whose judges follow models.yaml
reloads) runs it. For each judge it claims pending rows, builds each battle's
:class:`JudgeInput` from the transcript the voter judged (the conversation up
to the last user turn, then the two final answers), reads it as (A, B) and as
(B, A), combines the two with :func:`combine_orders` and saves both readings.
A judge that raises is recorded as ``error`` with the reason and counted; the
loop goes on. A row stays pending until its result is saved, so a killed
worker loses nothing and judges nothing twice (see :mod:`arena.store.judgements`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping

import orjson

from arena.config import load_catalogue
from arena.export.formats import last_turn
from arena.judge_kinds import JudgeLimits, build_judges, judge_limits
from arena.judges.base import Judge, JudgeInput, Reading, swapped
from arena.judges.verdicts import combine_orders
from arena.metrics import JUDGEMENTS
from arena.pool import ModelPool
from arena.settings import Settings
from arena.store import JudgementResult, PendingJudgement, Store

log = logging.getLogger(__name__)

# The app's background worker reads at most this many times per second per judge unless models.yaml sets
# rate_per_minute: unpaced, a judge whose endpoint fails at once made the worker spin through its backlog at about
# 100 battles/s and doubled the voters' p50 latency; paced at 10/s every fault mode stayed within noise (bench/judge.py).
BACKGROUND_READINGS_PER_S = 10.0

Message = dict[str, str]


class UnjudgeableBattle(ValueError):
    """A vote whose stored transcript gives the judge nothing to read (no snapshot, or no user turn)."""


def judge_input(transcript: str | None) -> tuple[list[Message], str, str]:
    """(shared conversation up to the last user turn, side a's final answer, side b's) from a vote's snapshot.

    The sides' own system prompts (arena.snapshot keeps them apart) describe the
    deployment and may name the model, so a judge never sees them. In a
    multi-turn battle the earlier answers in the conversation are side a's: the
    same context in both reading orders.
    """
    if not transcript:
        raise UnjudgeableBattle("the vote has no transcript snapshot")
    frozen = orjson.loads(transcript)
    conversation, answer_a = last_turn(frozen["p"] + frozen["a"])
    answer_b = last_turn(frozen["p"] + frozen["b"])[1]
    if not conversation:
        raise UnjudgeableBattle("the transcript has no user turn")
    return conversation, _answer_text(answer_a), _answer_text(answer_b)


def _answer_text(messages: list[Message]) -> str:
    return "\n\n".join(m["content"] for m in messages if m["role"] == "assistant")


def result_from_readings(ab: Reading, ba: Reading, latency_s: float) -> JudgementResult:
    """The stored row of one battle from its reading as (A, B) and its reading as (B, A), mapped to the original sides.

    A reading that never reached the judge makes the row an ``error`` (judged again later), not an invalid answer.
    """
    if ab.unavailable or ba.unavailable:
        unreached = "; ".join(f"{order}: {r.invalid_reason}" for order, r in (("A,B", ab), ("B,A", ba)) if r.unavailable)
        return JudgementResult(status="error", invalid_reason=f"judge unavailable ({unreached})", latency_s=latency_s)
    verdict_ab, verdict_ba = ab.verdict, swapped(ba.verdict)
    combined = combine_orders(verdict_ab, verdict_ba)
    reasons = [f"{order}: {r.invalid_reason}" for order, r in (("A,B", ab), ("B,A", ba)) if r.verdict is None and r.invalid_reason]
    scores = [s for s in (ab.scores, None if ba.scores is None else (ba.scores[1], ba.scores[0])) if s is not None]
    return JudgementResult(
        status="done" if combined.valid else "invalid", verdict=combined.verdict, consistent=combined.consistent,
        verdict_ab=verdict_ab, verdict_ba=verdict_ba, rationale_ab=ab.rationale or None, rationale_ba=ba.rationale or None,
        score_a=sum(s[0] for s in scores) / len(scores) if scores else None,
        score_b=sum(s[1] for s in scores) / len(scores) if scores else None,
        invalid_reason=None if combined.valid else "; ".join(reasons) or combined.invalid_reason, latency_s=latency_s,
    )


class _Pacer:
    """At most *rate* reading starts per second for one judge (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = max(self._next, time.monotonic()) + self.interval


@dataclass
class JudgingTally:
    """Rows judged by one run, per judge and status."""

    counts: Counter = field(default_factory=Counter)

    def add(self, judge: str, status: str) -> None:
        self.counts[(judge, status)] += 1

    def total(self) -> int:
        return sum(self.counts.values())


def _per_judge(value: float | Mapping[str, float] | None, name: str, default: float | None) -> float | None:
    if isinstance(value, Mapping):
        return value.get(name, default)
    return default if value is None else value


class JudgingWorker:
    """Judges the queued battles of each judge, *concurrency* readings at once and at most *rate* readings per second per judge."""

    def __init__(self, store: Store, judges: list[Judge], *, concurrency: int | Mapping[str, int] = 4,
                 rate: float | Mapping[str, float] | None = None, batch: int = 32,
                 max_attempts: int = 3, backoff_s: tuple[float, float] = (10.0, 300.0)) -> None:
        self.store = store
        self.judges = judges
        self.batch = batch
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s  # (first, longest) pause of a judge whose whole batch failed to reach it
        self._paused: dict[str, tuple[float, float]] = {}  # judge -> (resume at, current pause)
        self._slots = {j.name: asyncio.Semaphore(int(_per_judge(concurrency, j.name, 4) or 1)) for j in judges}
        self._pacers = {j.name: _Pacer(_per_judge(rate, j.name, None)) for j in judges}

    def enqueue(self, *, since=None, limit: int | None = None) -> int:  # noqa: ANN001 - a datetime or None
        """Queue the votes each judge has not judged yet; returns the rows added."""
        return sum(self.store.enqueue_judgements(j.name, j.kind, since=since, limit=limit) for j in self.judges)

    def pending(self) -> int:
        """Pending rows of this worker's judges."""
        counts = self.store.judgement_counts()
        return sum(counts.get(j.name, {}).get("pending", 0) for j in self.judges)

    async def run_once(self, limit: int | None = None, *, on_judged: Callable[[str, str], None] | None = None) -> JudgingTally:
        """One pass over each judge's pending rows (at most *limit* per judge), the judges side by side."""
        tally = JudgingTally()
        ready = [judge for judge in self.judges if self._paused.get(judge.name, (0.0, 0.0))[0] <= time.monotonic()]
        await asyncio.gather(*(self._drain(judge, limit, tally, on_judged) for judge in ready))
        return tally

    async def _drain(self, judge: Judge, limit: int | None, tally: JudgingTally,
                     on_judged: Callable[[str, str], None] | None) -> None:
        """Claim and judge batches in id order; a row whose save failed is left for the next pass, not retried in this one."""
        await asyncio.to_thread(self.store.requeue_judgement_errors, judge.name, max_attempts=self.max_attempts)
        after_id, done = 0, 0
        while limit is None or done < limit:
            size = self.batch if limit is None else min(self.batch, limit - done)
            claimed = await asyncio.to_thread(self.store.claim_judgements, judge.name, size, after_id=after_id)
            if not claimed:
                return
            after_id = claimed[-1].id
            statuses = await asyncio.gather(*(self._judge_one(judge, item) for item in claimed))
            for status in statuses:
                tally.add(judge.name, status)
                if on_judged:
                    on_judged(judge.name, status)
            done += len(claimed)
            if self._unreachable(judge.name, statuses):
                return

    def _unreachable(self, name: str, statuses: list[str]) -> bool:
        """After a batch: pause a judge none of whose readings got through (doubling the pause), or lift its pause."""
        if any(status != "error" for status in statuses):
            self._paused.pop(name, None)
            return False
        first, longest = self.backoff_s
        pause = min(longest, 2 * self._paused[name][1]) if name in self._paused else first
        self._paused[name] = (time.monotonic() + pause, pause)
        log.warning("judge %s: no reading of the last %d battles got through; pausing it for %.0f s", name, len(statuses), pause)
        return True

    async def _judge_one(self, judge: Judge, item: PendingJudgement) -> str:
        """Judge one battle in both orders and save it; returns the stored status."""
        started = time.monotonic()
        try:
            conversation, answer_a, answer_b = judge_input(item.transcript)
            ab, ba = await asyncio.gather(self._read(judge, JudgeInput(conversation, answer_a, answer_b)),
                                          self._read(judge, JudgeInput(conversation, answer_b, answer_a)))
            result = result_from_readings(ab, ba, time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - a judge's failure is stored with its reason; the worker goes on
            log.warning("judge %s failed on battle %s: %s: %s", judge.name, item.battle_id, type(exc).__name__, exc)
            result = JudgementResult(status="error", invalid_reason=f"{type(exc).__name__}: {exc}"[:2000],
                                     latency_s=time.monotonic() - started)
        await asyncio.to_thread(self.store.save_judgement, item.id, result)
        JUDGEMENTS.labels(judge.name, result.status).inc()
        return result.status

    async def _read(self, judge: Judge, item: JudgeInput) -> Reading:
        async with self._slots[judge.name]:
            await self._pacers[judge.name].wait()
            return await judge.read(item)

    async def aclose(self) -> None:
        for judge in self.judges:
            await judge.aclose()


# --- the app's background judging -----------------------------------------------------

JudgeFactory = Callable[[], tuple[list[Judge], JudgeLimits]]


class BackgroundJudging:
    """The app's judging of new votes, its judges rebuilt by *build* after every models.yaml reload.

    Why: judges derive from models.yaml as the models do, so an edit (a judge added or disabled, a new
    concurrency, an llm judge's model changed) must apply without a restart, and an llm judge must follow its
    model's new backend. The reloader calls :meth:`reloaded` from its thread; the judges are rebuilt between
    passes, so a pass in progress finishes with the judges it started with, which are closed after it.
    """

    def __init__(self, store: Store, build: JudgeFactory, *, every_s: float = 10.0) -> None:
        self.store, self.build, self.every_s = store, build, every_s
        self._wanted = self._built = 0  # the reload asked for, the one the worker was built from
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.worker = self._make_worker()

    def judge_names(self) -> list[str]:
        return [j.name for j in self.worker.judges]

    def reloaded(self, version: int) -> None:
        """The reloader's hook (its thread): rebuild before the next pass, and start that pass now rather than after the wait."""
        self._wanted = version
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def _make_worker(self) -> JudgingWorker:
        judges, limits = self.build()
        log.info("judging new votes in the background with %s", ", ".join(j.name for j in judges) or "no judge")
        return JudgingWorker(self.store, judges, concurrency=limits.concurrency, rate=limits.rate)

    async def _rebuild(self) -> None:
        wanted = self._wanted  # read first: a reload landing during the build asks again
        old, self.worker = self.worker, self._make_worker()
        self._built = wanted
        await old.aclose()

    async def run(self) -> None:
        """Pass after pass until cancelled; a failed pass (or rebuild) is logged and tried again."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        try:
            while True:
                self._wake.clear()
                try:
                    if self._built != self._wanted:
                        await self._rebuild()
                    if self.worker.judges:
                        await asyncio.to_thread(self.worker.enqueue)
                        await self.worker.run_once()
                except Exception:
                    log.exception("background judging pass failed; trying again in %.0f s", self.every_s)
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.every_s)
                except asyncio.TimeoutError:
                    pass
        finally:
            await self.worker.aclose()


def pool_judges(pool: ModelPool, mode: str) -> tuple[list[Judge], JudgeLimits]:
    """The judges *mode* (``ARENA_JUDGING``) lets the app run, from the pool's current catalogue and backends, and their limits."""
    catalogue, backends = pool.catalogue, pool.backends
    # Unpaced judges get the background pace, so a judge that fails at once cannot spin the voters' event loop.
    return background_judges(build_judges(catalogue, backends), mode), judge_limits(catalogue, default_rate=BACKGROUND_READINGS_PER_S)


def background_judges(judges: list[Judge], mode: str) -> list[Judge]:
    """The judges ``ARENA_JUDGING`` lets the app run by itself: the rule baselines (``rules``), all, or none (``off``)."""
    if mode == "off":
        return []
    return [j for j in judges if mode == "all" or j.kind == "rule"]


# --- the judges the CLI runs ----------------------------------------------------------

def judges_for_cli(models_path: str, names: list[str] | None, *,
                   settings: Settings | None = None) -> tuple[list[Judge], JudgeLimits]:
    """The judges models.yaml declares (``judges:``, or the embedded default), only those named if *names*, and their limits."""
    catalogue = load_catalogue(models_path)
    judges = build_judges(catalogue, ModelPool(catalogue, settings or Settings.from_env()).backends)
    if names:
        unknown = sorted(set(names) - {j.name for j in judges})
        if unknown:
            raise ValueError(f"unknown judge(s) {', '.join(unknown)}; available: {', '.join(sorted(j.name for j in judges))}")
        judges = [j for j in judges if j.name in names]
    return judges, judge_limits(catalogue)


__all__ = ["BACKGROUND_READINGS_PER_S", "BackgroundJudging", "JudgingTally", "JudgingWorker", "UnjudgeableBattle", "judge_input",
           "judges_for_cli", "pool_judges", "result_from_readings"]
