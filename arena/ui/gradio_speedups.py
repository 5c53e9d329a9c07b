"""One measured fix to Gradio's output processing: components an event leaves alone cost nothing.

When a handler returns a dict of updates, Gradio fills every output it does
not name with ``gr.skip()`` (``{"__type__": "update"}``), and treats that like
any property update: it constructs a new instance of the component and
recomputes its configuration (``config_for_block``), only to send
``{"__type__": "update"}`` to the browser. A streaming battle updates its two
panes some twenty times a second and names nothing else, so each update used
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

import inspect
import logging
from typing import Any

log = logging.getLogger(__name__)

_SKIP = {"__type__": "update"}
_INSTALLED_FLAG = "_arena_skip_shortcut"


class _FewerOutputs:
    """A view of a Gradio BlockFunction with only some of its outputs (everything else delegated)."""

    def __init__(self, block_fn: Any, outputs: list[Any]) -> None:
        self._block_fn = block_fn
        self.outputs = outputs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._block_fn, name)


def install() -> bool:
    """Install the shortcut once per process; True if it is in place."""
    from gradio.blocks import Block, Blocks

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
