"""Gradio's event queue waits for work by napping until work arrives, not by polling every millisecond.

Why: Gradio's queue loop checks for new events every 1 ms when it has none,
and its progress loop every 10 ms. An idle app used 7 % of a core that way
(145 clock ticks in 20 s; 14 with the loops slowed down), on every instance,
all day. Under load the checks run whenever the queue is briefly empty.

How, without copying Gradio's loop: :func:`install` sets the queue's idle
delay to :data:`NAP_S`, a value no other sleep in ``gradio.queueing`` uses,
and stands in for ``asyncio`` inside that module so that a sleep of exactly
that length becomes a nap that ends early when an event is queued or a
running one finishes (a free slot). The nap's own length is the safety net,
should a wake-up ever be missed: at worst an event starts 50 ms late.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

log = logging.getLogger(__name__)

NAP_S = 0.0497  # the queue's longest wait for new work (deliberately an odd value: it marks the queue's own sleeps)
PROGRESS_POLL_S = 0.1  # progress bars refresh at most 10 times a second (Gradio: 100 when idle)
_WRAPPED = "_arena_wakes_queue"


class _NappingAsyncio:
    """Stands in for the ``asyncio`` module inside ``gradio.queueing``; only the queue's idle sleeps change."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._events: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _event(self) -> asyncio.Event:
        loop = self._real.get_running_loop()
        event = self._events.get(loop)
        if event is None:
            self._events = {known: e for known, e in self._events.items() if not known.is_closed()}
            event = self._events[loop] = self._real.Event()
        return event

    def wake(self) -> None:
        """End the current nap (or the next one, if the queue is between two checks)."""
        self._event().set()

    async def sleep(self, delay: float, result: Any = None) -> Any:
        if delay != NAP_S:
            return await self._real.sleep(delay, result)
        event = self._event()
        if not event.is_set():
            timer = self._real.get_running_loop().call_later(NAP_S, event.set)
            try:
                await event.wait()
            finally:
                timer.cancel()
        event.clear()
        return result


def install(queue: Any) -> bool:
    """Make *queue* (a Blocks' ``_queue``, after ``demo.queue()``) nap when idle; True if in place."""
    import gradio.queueing as queueing

    shim = queueing.asyncio
    if not isinstance(shim, _NappingAsyncio):
        if shim is not asyncio or not all(hasattr(queueing.Queue, name) for name in ("push", "process_events")):
            log.warning("gradio.queueing changed shape; its queue keeps polling every millisecond")
            return False
        shim = _NappingAsyncio(asyncio)
        queueing.asyncio = shim  # type: ignore[assignment]
        for name in ("push", "process_events"):  # new work, and a slot freed
            setattr(queueing.Queue, name, _waking(getattr(queueing.Queue, name), shim))
    queue.sleep_when_free = NAP_S
    queue.progress_update_sleep_when_free = PROGRESS_POLL_S
    return True


def _waking(method: Any, shim: _NappingAsyncio) -> Any:
    if getattr(method, _WRAPPED, False):
        return method

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        finally:
            shim.wake()

    setattr(wrapper, _WRAPPED, True)
    return wrapper
