"""Two measured fixes to Gradio's per-event costs (found with py-spy under ``bench/load.py``).

Each is registered in :mod:`arena.patches` (with the figure that keeps it and
the versions it was verified on), checks the shape of what it replaces and
declines with a warning when that changed, and has a test that drives
Gradio's own call site (``tests/test_patches.py``).

1. :func:`skip_untouched_outputs`: outputs an event does not name are not
   rebuilt. When a handler returns a dict of updates, Gradio fills every
   output it does not name with ``gr.skip()`` and treats that like any
   property update: it constructs a new instance of the component and
   recomputes its configuration, only to send ``{"__type__": "update"}``. A
   streaming battle updates its two panes up to ten times a second and names
   nothing else, so each update rebuilt the components it did not touch.
   The wrapper around ``Blocks.postprocess_data`` hands Gradio only the
   outputs the handler named and fills in exactly what Gradio would have sent
   for the others (``{"__type__": "update"}``, or ``None`` for a
   ``gr.State``). Only dict-returning, non-batched events with several
   outputs are affected; anything else goes through Gradio unchanged.
2. :func:`process_text_components_inline`: text components' conversions
   (``preprocess``, ``postprocess``) run in the event loop instead of one
   worker-thread trip each.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, cast

log = logging.getLogger(__name__)

_SKIP = {"__type__": "update"}
_INSTALLED_FLAG = "_arena_patch"


class _FewerOutputs:
    """A view of a Gradio BlockFunction with only some of its outputs (everything else delegated)."""

    def __init__(self, block_fn: Any, outputs: list[Any]) -> None:
        self._block_fn = block_fn
        self.outputs = outputs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._block_fn, name)


def skip_untouched_outputs() -> bool:
    """Let outputs an event leaves alone bypass Gradio's rebuild of them; True if in place."""
    from gradio.blocks import Block, BlockFunction, Blocks

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
            or not predictions.keys() <= set(outputs)  # (a mistake Gradio explains)
        ):
            return await original(self, block_fn, predictions, state)
        touched = [block for block in outputs if block in predictions and predictions[block] != _SKIP]
        processed: list[Any] = []
        if touched:
            fewer = cast(BlockFunction, _FewerOutputs(block_fn, touched))  # a view that quacks like one
            processed = await original(self, fewer, {block: predictions[block] for block in touched}, state)
        results = iter(processed)
        named = set(touched)
        return [next(results) if block in named else (None if block.stateful else dict(_SKIP)) for block in outputs]

    setattr(postprocess_data, _INSTALLED_FLAG, True)
    postprocess_data.__wrapped__ = original  # type: ignore[attr-defined]
    postprocess_data.__doc__ = original.__doc__
    Blocks.postprocess_data = postprocess_data  # type: ignore[method-assign]
    return True


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
    blocks.anyio = _InlineTextProcessing(anyio, (  # type: ignore[assignment]  # a stand-in for the module (the rest delegated)
        gr.Chatbot, gr.Markdown, gr.Button, gr.Textbox, gr.Dropdown, gr.Checkbox))
    return True

