"""The garbage collector's tuning and the two responsiveness metrics (arena/responsiveness.py)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Iterator

import pytest

from arena import responsiveness
from arena.metrics import EVENT_LOOP_LAG, GC_PAUSE


def observed(histogram, **labels: str) -> tuple[float, float]:  # a prometheus_client Histogram
    """(count, sum) of a histogram's observations so far."""
    samples = {sample.name: sample.value for metric in histogram.collect() for sample in metric.samples
               if all(sample.labels.get(k) == v for k, v in labels.items())}
    name = histogram._name
    return samples.get(f"{name}_count", 0.0), samples.get(f"{name}_sum", 0.0)


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settling_the_heap_freezes_what_start_up_made_and_makes_collections_rarer(restored_gc: None) -> None:
    made_at_start_up = [{"config": i} for i in range(1000)]
    frozen = responsiveness.settle_heap((5000, 7, 30))
    assert frozen == gc.get_freeze_count() and frozen > len(made_at_start_up)
    assert gc.get_threshold() == (5000, 7, 30)
    assert not any(made_at_start_up[0] is x for x in gc.get_objects(generation=2))  # out of the collector's sight


def test_every_garbage_collection_is_timed() -> None:
    responsiveness.watch_gc()
    responsiveness.watch_gc()  # once per process, however often asked
    assert gc.callbacks.count(responsiveness._time_collection) == 1
    before, _ = observed(GC_PAUSE, generation="2")
    gc.collect()
    after, _ = observed(GC_PAUSE, generation="2")
    assert after == before + 1


def test_a_blocked_event_loop_shows_as_lag() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        count, total = observed(EVENT_LOOP_LAG)
        probe = asyncio.run_coroutine_threadsafe(responsiveness.probe_lag(every_s=0.05), loop)
        time.sleep(0.2)
        loop.call_soon_threadsafe(time.sleep, 0.4)  # a callback that holds the loop for 0.4 s
        deadline = time.monotonic() + 5
        while observed(EVENT_LOOP_LAG)[1] - total < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        new_count, new_total = observed(EVENT_LOOP_LAG)
        assert new_total - total >= 0.3  # the stall was seen, most of it in one probe
        assert new_count - count >= 3  # and the probe keeps going
        probe.cancel()
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(timeout=5)  # the cancellation is delivered
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
