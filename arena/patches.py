"""Every place the arena reaches into a framework's internals, registered once.

A patch is kept only while it earns its keep: ``bench/load.py`` on the
locked versions shows it saves a measurable share of the app's CPU per
battle or of latency (the figure is in its entry), and a test drives the
framework's own call site and fails when the patch is a no-op
(``tests/test_patches.py``). Each patch checks the shape of what it
replaces and declines, with a warning, when that changed, so a framework
upgrade can make the app slower but never wrong. At start-up
:func:`install_all` logs one line saying which patches are active and which
declined, and sets the gauge ``arena_framework_patch_active`` per patch.
``ARENA_PATCHES_OFF`` leaves patches out by name (the benchmark measures
each patch that way). ``docs/upstream-notes.md`` has, per patch, the change
upstream that would make it unnecessary.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any, Callable

from arena import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patch:
    name: str
    reaches_into: str  # what of the framework's it replaces or edits
    saves: str  # what it saves, and the figure that keeps it
    verified_on: str  # the locked versions its test and the benchmark ran on
    install: Callable[[Any], bool]  # takes the gr.Blocks (queued); True if in place


def _skip_untouched_outputs(_demo: Any) -> bool:
    from arena.ui import gradio_speedups

    return gradio_speedups.skip_untouched_outputs()


def _text_components_inline(_demo: Any) -> bool:
    from arena.ui import gradio_speedups

    return gradio_speedups.process_text_components_inline()


def _queue_polls_gently(demo: Any) -> bool:
    from arena.ui import queue_naps

    return queue_naps.install(demo._queue)


def _missing_modules_remembered(_demo: Any) -> bool:
    from arena.responsiveness import OPTIONAL_PER_CALL, remember_missing_modules

    remember_missing_modules()
    return any(sys.modules.get(name, ...) is None for name in OPTIONAL_PER_CALL)  # False: all installed, nothing to do


def _session_streams_known(demo: Any) -> bool:
    from arena.security import pending_sessions

    return isinstance(pending_sessions(demo), dict)


GRADIO = "gradio 6.31.0 (fastapi 0.165.0, starlette 1.10.0, anyio 4.16.0, uvicorn 0.55.0)"

PATCHES: tuple[Patch, ...] = (
    Patch("skip_untouched_outputs",
          "gradio.blocks.Blocks.postprocess_data (wrapped); reads BlockFunction.outputs, .batch, .is_validator_function, Block.stateful",
          "outputs an event does not name are not rebuilt; a streaming update names only the two panes. bench/load.py, N=50, "
          "SQLite x2, alternating: 57 -> 76 and 45 -> 69 ms of app CPU per battle without it", GRADIO, _skip_untouched_outputs),
    Patch("text_components_inline", "gradio.blocks.anyio (a stand-in for the module)",
          "text components' pre- and postprocess run in the event loop, not one worker-thread trip each: 51 -> 59 and "
          "45 -> 54 ms per battle without it", GRADIO, _text_components_inline),
    Patch("missing_modules_remembered", "sys.modules (None for matplotlib and sniffio when absent): no framework object",
          "a search of every sys.path entry at each failed optional import, Gradio's around every event and httpcore's "
          "around every request. bench/load.py, N=50, PostgreSQL x2, alternating: 43, 42, 43 -> 45, 45, 47 ms of app CPU "
          "per battle without it", "CPython 3.11", _missing_modules_remembered),
    Patch("queue_polls_gently", "sets Blocks._queue.sleep_when_free",
          "the queue's check for work every millisecond: 6.2-6.5 % of a core per idle instance without it, 2.7-3.1 % with; "
          "under load 52 -> 57 and 41 -> 45 ms per battle without it", GRADIO, _queue_polls_gently),
    Patch("session_streams_known", "reads Blocks._queue.pending_messages_per_session (ApiGuard)",
          "not a speed-up: a stream of a session without events is refused with a 404, where Gradio would start it and "
          "fail inside it (a broken response and a traceback)", GRADIO, _session_streams_known),
)


def names() -> list[str]:
    return [patch.name for patch in PATCHES]


def install_all(demo: Any, off: str | set[str] = "") -> dict[str, bool]:
    """Install every registered patch not in *off* (names, or a comma-separated string) on the queued *demo*.

    Logs and exports which are active.
    """
    skipped = {name.strip() for name in off.split(",")} if isinstance(off, str) else set(off)
    unknown = sorted(skipped - set(names()) - {""})
    if unknown:
        log.warning("ARENA_PATCHES_OFF names unknown patches %s (known: %s)", ", ".join(unknown), ", ".join(names()))
    active: dict[str, bool] = {}
    reasons: dict[str, str] = {}
    for patch in PATCHES:
        if patch.name in skipped:
            active[patch.name], reasons[patch.name] = False, "turned off"
            continue
        try:
            active[patch.name] = bool(patch.install(demo))
        except Exception as exc:  # noqa: BLE001 - a framework that changed beyond what the shape checks foresaw: decline, loudly
            log.warning("patch %s failed to install: %r", patch.name, exc)
            active[patch.name] = False
        if not active[patch.name]:
            reasons.setdefault(patch.name, "the framework changed shape")
    for name, on in active.items():
        metrics.PATCH_ACTIVE.labels(name).set(1 if on else 0)
    names_on = [name for name, ok in active.items() if ok]
    declined = [f"{name} ({reasons[name]})" for name, ok in active.items() if not ok]
    log.info("framework patches: active %s; declined %s", ", ".join(names_on) or "none", ", ".join(declined) or "none")
    return active
