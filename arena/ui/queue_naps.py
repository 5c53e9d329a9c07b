"""Gradio's event queue checks for work every few milliseconds, not every millisecond.

Why: Gradio's queue loop looks for new events every 1 ms when it has none
(or when all its slots are busy): an idle app spent 6.2-6.5 % of a core,
on every instance, all day. :func:`install` sets that interval on the queue
(``sleep_when_free``): the only change, no module or method of Gradio's is
replaced. The price is that an event arriving at an idle queue starts up to
:data:`IDLE_POLL_S` later.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.005  # the queue's longest wait for new work: at most 5 ms added to an event that finds it idle


def install(queue: Any) -> bool:
    """Make *queue* (a Blocks' queue, after ``demo.queue()``) poll gently; True if in place."""
    if not isinstance(getattr(queue, "sleep_when_free", None), float):
        log.warning("Gradio's queue no longer has its polling interval; it keeps checking every millisecond")
        return False
    queue.sleep_when_free = IDLE_POLL_S
    return True
