"""Three measured fixes to Gradio's per-event costs (found with py-spy under ``bench/load.py``).

1. Components an event leaves alone cost nothing (:func:`install`).
2. Absent optional modules are looked for once, not at every event
   (:func:`remember_missing_modules`).
3. Text components are converted in the event loop, not in a worker thread
   (:func:`process_text_components_inline`).

The first, in detail:

When a handler returns a dict of updates, Gradio fills every output it does
not name with ``gr.skip()`` (``{"__type__": "update"}``), and treats that like
any property update: it constructs a new instance of the component and
recomputes its configuration (``config_for_block``), only to send
``{"__type__": "update"}`` to the browser. A streaming battle updates its two
panes up to ten times a second and names nothing else, so each update used
to rebuild the eleven components it did not touch; under load that was most of
the app's CPU (``bench/load.py``, profiled with py-spy).

:func:`install` wraps ``Blocks.postprocess_data`` so that outputs which are
skipped (absent from the returned dict, or ``gr.skip()``) bypass that work and
produce exactly what Gradio would have sent for them: ``{"__type__":
"update"}``, or ``None`` for a ``gr.State``. Everything else goes through
Gradio unchanged. Only dict-returning, non-batched events with several outputs
are affected; anything else is passed straight through. If Gradio's internals
change shape, the wrapper is not installed and a warning is logged
(``tests/test_ui_speedups.py`` checks the equivalence on the installed version).
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

# Imported on every call by code on the hot path, inside try/except ImportError: Gradio imports matplotlib
# twice per event (to switch its backend), httpcore imports sniffio around its locks.
OPTIONAL_PER_CALL = ("matplotlib", "sniffio")
_SKIP = {"__type__": "update"}
_INSTALLED_FLAG = "_arena_skip_shortcut"


class _FewerOutputs:
    """A view of a Gradio BlockFunction with only some of its outputs (everything else delegated)."""

    def __init__(self, block_fn: Any, outputs: list[Any]) -> None:
        self._block_fn = block_fn
        self.outputs = outputs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._block_fn, name)


def remember_missing_modules(names: tuple[str, ...] = OPTIONAL_PER_CALL) -> list[str]:
    """Make ``import name`` fail at once for each of *names* that is not installed; returns those.

    Why: a failed import is not cached by Python, so each attempt searches
    every ``sys.path`` entry again. Gradio and httpcore try such imports on
    every event and stream; under load that was about 5 % of the app's CPU.
    A ``None`` in ``sys.modules`` is Python's own way to say "known absent":
    the import raises ``ModuleNotFoundError`` without touching the disk.
    """
    missing = [name for name in names if name not in sys.modules and importlib.util.find_spec(name) is None]
    for name in missing:
        sys.modules[name] = None  # type: ignore[assignment]
    return missing


class _InlineTextProcessing:
    """Stands in for the ``anyio`` module inside ``gradio.blocks``: text components' conversions run inline.

    Gradio hands every input's ``preprocess`` and every output's
    ``postprocess`` to a worker thread, one hop per component per event, and a
    streaming battle has up to ten events a second. For text components
    these are microseconds of pure Python, which holds the GIL in a thread as
    much as in the event loop, so the hop only adds its own cost (a thread
    handoff, a capacity-limiter round, a switch back) and a wait of up to the
    interpreter's switch interval under load. Everything else (handlers,
    files, images) still goes to a thread.
    """

    def __init__(self, anyio_module: Any, inline_types: tuple[type, ...]) -> None:
        self._anyio = anyio_module
        self._inline_types = inline_types
        self.to_thread = _ToThread(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._anyio, name)

    def runs_inline(self, fn: Any) -> bool:
        return getattr(fn, "__name__", "") in ("preprocess", "postprocess") and isinstance(getattr(fn, "__self__", None), self._inline_types)


class _ToThread:
    def __init__(self, owner: _InlineTextProcessing) -> None:
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner._anyio.to_thread, name)

    async def run_sync(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self._owner.runs_inline(fn):
            return fn(*args)
        return await self._owner._anyio.to_thread.run_sync(fn, *args, **kwargs)


def process_text_components_inline() -> bool:
    """Let Gradio convert text components (chat panes, Markdown, buttons, text boxes) without a thread hop."""
    import anyio
    import gradio as gr
    import gradio.blocks as blocks

    if isinstance(blocks.anyio, _InlineTextProcessing):
        return True
    if blocks.anyio is not anyio:
        log.warning("gradio.blocks no longer uses anyio as expected; text components keep their thread hop")
        return False
    blocks.anyio = _InlineTextProcessing(anyio, (gr.Chatbot, gr.Markdown, gr.Button, gr.Textbox, gr.Dropdown, gr.Checkbox))
    return True


def install() -> bool:
    """Install the shortcut once per process (and the other two fixes); True if the shortcut is in place."""
    from gradio.blocks import Block, Blocks

    remember_missing_modules()
    process_text_components_inline()

    original = Blocks.postprocess_data
    if getattr(original, _INSTALLED_FLAG, False):
        return True
    parameters = list(inspect.signature(original).parameters)
    if parameters != ["self", "block_fn", "predictions", "state"] or not inspect.iscoroutinefunction(original):
        log.warning("Gradio's postprocess_data changed shape (%s); skipped outputs are processed the slow way", parameters)
        return False

    async def postprocess_data(self: Any, block_fn: Any, predictions: Any, state: Any) -> list[Any]:
        outputs = list(block_fn.outputs)
        if (
            not isinstance(predictions, dict)
            or not predictions
            or len(outputs) < 2
            or block_fn.batch
            or block_fn.is_validator_function
            or not all(isinstance(key, Block) for key in predictions)
        ):
            return await original(self, block_fn, predictions, state)
        by_id = {key._id: value for key, value in predictions.items()}
        if not by_id.keys() <= {block._id for block in outputs}:
            return await original(self, block_fn, predictions, state)  # Gradio explains the mistake
        touched = [block for block in outputs if block._id in by_id and by_id[block._id] != _SKIP]
        processed: list[Any] = []
        if touched:
            fewer = {block: by_id[block._id] for block in touched}
            processed = await original(self, _FewerOutputs(block_fn, touched), fewer, state)
        results = iter(processed)
        touched_ids = {block._id for block in touched}
        return [next(results) if block._id in touched_ids else (None if block.stateful else dict(_SKIP)) for block in outputs]

    setattr(postprocess_data, _INSTALLED_FLAG, True)
    postprocess_data.__doc__ = original.__doc__
    Blocks.postprocess_data = postprocess_data  # type: ignore[method-assign]
    return True
