"""Keeping the web process responsive: the garbage collector tuned, its pauses and the event loop's lag measured.

Why: under load (``bench/load.py``, 100 voters on two instances) the slowest
votes were not slow handlers but a stopped event loop. Python's full garbage
collections walked the whole heap, every library the app imports included,
every few seconds, and took 160-300 ms each; no request moved meanwhile.
:func:`settle_heap` moves everything alive after start-up out of the
collector's sight (``gc.freeze``: those objects are the app itself, never
garbage) and makes collections rarer. Measured in the same run: full
collections of 25-65 ms instead, vote p99 0.54 s -> 0.24 s, and 35 -> 30 ms of
CPU per battle (the collector's own work).

The two measurements are Prometheus histograms (``arena/metrics.py``):
``arena_gc_pause_seconds`` by generation, and ``arena_event_loop_lag_seconds``,
how late the web server's event loop runs a callback it was asked to run at a
given time. A lag that grows is the first sign an instance is saturated.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import sys
import time
from typing import Any

from arena.metrics import EVENT_LOOP_LAG, GC_PAUSE

log = logging.getLogger(__name__)

# Collect the youngest objects after 7,000 net allocations instead of 700, and the whole (unfrozen) heap after 50
# collections of the middle generation instead of 10. Young garbage is still found young; old cycles wait longer.
GC_THRESHOLDS = (7000, 10, 50)
LAG_PROBE_S = 0.25


def settle_heap(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> int:
    """Call once start-up is done: collect, freeze what is left, make collections rarer; returns the objects frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    frozen = gc.get_freeze_count()
    log.info("%d objects alive after start-up are left out of garbage collection; thresholds %s", frozen, thresholds)
    return frozen


_started: dict[int, float] = {}


def _time_collection(phase: str, info: dict[str, Any]) -> None:
    generation = info["generation"]
    if phase == "start":
        _started[generation] = time.perf_counter()
    elif generation in _started:
        GC_PAUSE.labels(str(generation)).observe(time.perf_counter() - _started.pop(generation))


def watch_gc() -> None:
    """Time every garbage collection of this process into ``arena_gc_pause_seconds`` (once per process)."""
    if _time_collection not in gc.callbacks:
        gc.callbacks.append(_time_collection)


async def probe_lag(every_s: float = LAG_PROBE_S) -> None:
    """Forever: sleep *every_s* and record how much later than asked the loop woke this task."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(every_s)
        EVENT_LOOP_LAG.observe(max(0.0, loop.time() - asked - every_s))


# Imported on every call by code on the hot path, inside try/except ImportError: Gradio imports matplotlib around
# every event (to switch its backend), httpcore imports sniffio around its locks (every HTTP request).
OPTIONAL_PER_CALL = ("matplotlib", "sniffio")


def remember_missing_modules(names: tuple[str, ...] = OPTIONAL_PER_CALL) -> list[str]:
    """Make ``import name`` fail at once for each of *names* that is not installed; returns those.

    Why: a failed import is not cached by Python, so each attempt searches
    every ``sys.path`` entry again (a ``stat`` per entry). Gradio and httpcore
    try such imports on every event and request: 2-4 ms of the app's CPU per
    battle under ``bench/load.py`` on PostgreSQL (see :mod:`arena.patches`). A ``None`` in
    ``sys.modules`` is Python's own way to say "known absent": the import
    raises ``ModuleNotFoundError`` without touching the disk.
    """
    missing = [name for name in names if name not in sys.modules and importlib.util.find_spec(name) is None]
    for name in missing:
        sys.modules[name] = None  # type: ignore[assignment]
    return missing
