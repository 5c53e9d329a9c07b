"""Eight measured fixes to Gradio's per-event costs (found with py-spy under ``bench/load.py``).

1. Components an event leaves alone cost nothing (:func:`install`).
2. Absent optional modules are looked for once, not at every event
   (:func:`arena.responsiveness.remember_missing_modules`).
3. Text components are converted in the event loop, not in a worker thread
   (:func:`process_text_components_inline`).
4. A property-only update (a button enabled or disabled) is built once, not
   once per session and event (:class:`PropUpdates`, used by :func:`install`).
5. Gradio's login check runs in the event loop, not in a worker thread
   (:func:`run_login_check_inline`).
6. The queue's analytics summary takes a worker-thread trip only when it is
   due, not after every event (:func:`summarise_analytics_only_when_due`).
7. An event handler's type hints are read once, not at every event
   (:func:`remember_type_hints`).
8. Writing a ``gr.State`` does not recompute its configuration, which never
   changes (:func:`keep_state_configs`).

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

import datetime
import inspect
import logging
import weakref
from collections import OrderedDict
from typing import Any, Iterator

from arena.responsiveness import remember_missing_modules

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


class PropUpdates:
    """Remembers what a property-only update (``gr.update(interactive=False)``) of a component makes.

    Why: for each such update Gradio builds a new instance of the component
    from its constructor arguments and computes its configuration twice, for
    every session, although the result depends only on the component as the
    session shows it and on the update. A battle enables and disables its
    buttons a few times per round, and under load that was a tenth of the
    app's CPU (``bench/load.py``, profiled with py-spy). The first session
    pays; later ones reuse the instance, its configuration and the message.

    Only updates without a ``value`` and with hashable properties are
    remembered; anything else returns None and goes through Gradio. The
    instances are shared between sessions, which Gradio only reads (it makes
    a new instance for any later update). Each session gets its own copy of
    the configuration, the part Gradio writes to.
    """

    def __init__(self, capacity: int = 2048) -> None:
        self._capacity = capacity
        # (component id, id of the instance updated, the update) -> (that instance, new instance, config, message).
        # Holding the updated instance keeps its id from being reused while the entry lives.
        self._made: OrderedDict[tuple, tuple[Any, Any, dict, dict]] = OrderedDict()
        self.built = 0

    def apply(self, block: Any, update: Any, state: Any, *, postprocess: bool) -> dict | None:
        """What Gradio would send for *update* of *block* in the session *state*, applied to *state*; None: not handled."""
        from gradio.blocks import postprocess_update_dict
        from gradio.utils import delete_none, is_prop_update

        if block.stateful or not is_prop_update(update) or "value" in update:
            return None
        update = delete_none(dict(update), skip_value=True)
        try:
            frozen = tuple(sorted(update.items()))
            hash(frozen)
        except TypeError:
            return None
        shown = state.get(block._id, block)
        key = (block._id, id(shown), frozen)
        made = self._made.get(key)
        if made is None:
            kwargs = {**shown.constructor_args, **update, "render": False}
            kwargs.pop("value", None)
            kwargs.pop("__type__")
            instance = block.__class__(**kwargs)
            config = state.blocks_config.config_for_block(block._id, [], instance)
            message = postprocess_update_dict(block=instance, update_dict=dict(update), postprocess=postprocess)
            made = self._made[key] = (shown, instance, config, message)
            self.built += 1
            if len(self._made) > self._capacity:
                self._made.popitem(last=False)
        else:
            self._made.move_to_end(key)
        _, instance, config, message = made
        state.blocks_config.blocks[block._id] = instance
        state.config_values[block._id] = {**config, "props": dict(config.get("props", {}))}
        return dict(message)


prop_updates = PropUpdates()


def run_login_check_inline(app: Any) -> int:
    """Make the login check of every route of *app* (a launched Gradio app) run without a thread hop; returns how many.

    Why: Gradio declares ``login_check`` as a plain function, and FastAPI
    runs plain dependencies in its thread pool, so each request (two per
    event: joining the queue and opening its stream) paid a hand-off to a
    worker thread and back, for a dictionary lookup. It does no I/O, so it may
    as well run in the event loop. The routes' dependency trees are edited in
    place; anything that is not that plain function is left alone.
    """
    inline: dict[Any, Any] = {}

    def async_version(call: Any) -> Any:
        async def login_check(**values: Any) -> Any:
            return call(**values)

        return login_check

    def edit(dependant: Any) -> int:
        count = 0
        for sub in dependant.dependencies:
            call = sub.call
            if getattr(call, "__name__", "") == "login_check" and inspect.isfunction(call) and not (
                inspect.iscoroutinefunction(call) or inspect.isgeneratorfunction(call)
            ):
                sub.call = inline.setdefault(call, async_version(call))
                count += 1
            count += edit(sub)
        return count

    def routes_of(routes: list[Any]) -> Iterator[Any]:
        for route in routes:
            if getattr(route, "dependant", None) is not None:  # an APIRoute, or one of FastAPI's effective routes
                yield route
            # FastAPI >= 0.130 keeps an included router's routes apart and builds their dependency trees anew, once,
            # on first use ("effective" routes): build them now so that the edit reaches the trees requests use.
            if callable(getattr(route, "effective_candidates", None)):
                yield from routes_of(route.effective_candidates())

    edited = sum(edit(route.dependant) for route in routes_of(app.routes))
    if not edited:
        log.warning("no login check found among Gradio's routes; requests keep their thread hop")
    return edited


async def _run_sync_unless_idle(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``anyio.to_thread.run_sync`` for ``gradio.queueing``, except for an analytics summary that is not due."""
    queue = getattr(fn, "__self__", None)
    if getattr(fn, "__name__", "") == "compute_analytics_summary" and queue is not None:
        due = queue.events_recorded - queue.event_count_at_last_cache >= queue.ANAYLTICS_CACHE_FREQUENCY
        if not due:
            return queue.cached_event_analytics_summary  # what the method returns when it is not due
    return await _real_run_sync(fn, *args, **kwargs)


_real_run_sync: Any = None


def summarise_analytics_only_when_due() -> bool:
    """Let Gradio's queue skip the thread trip for an analytics summary it would not compute; True if in place.

    Why: after every event the queue hands ``compute_analytics_summary`` to
    a worker thread, which returns at once unless a summary is due (once per
    ``GRADIO_ANALYTICS_CACHE_FREQUENCY`` events, which ``server.serve`` sets
    to 1,000). The trip itself (a thread hand-off, a wake-up of the loop) was
    the cost: three per battle. A due summary still goes to a thread.
    """
    global _real_run_sync
    import gradio.queueing as queueing

    if queueing.run_sync is _run_sync_unless_idle:
        return True
    needed = ("events_recorded", "event_count_at_last_cache", "ANAYLTICS_CACHE_FREQUENCY", "cached_event_analytics_summary")
    source = inspect.getsource(queueing.Queue.__init__) + inspect.getsource(queueing.Queue.compute_analytics_summary)
    if not all(name in source for name in needed):
        log.warning("Gradio's queue analytics changed shape; each event keeps its thread trip for them")
        return False
    _real_run_sync = queueing.run_sync
    queueing.run_sync = _run_sync_unless_idle
    return True


def remember_type_hints() -> bool:
    """Let Gradio read each event handler's type hints once, not at every event; True if in place.

    Why: to find which parameters want a ``gr.Request`` or event data, Gradio
    evaluates the handler's annotations (``typing.get_type_hints``, string
    annotations parsed anew) on every call: about 2 % of the app's CPU under
    load. A function's hints are fixed once it is defined, so they are kept
    per function (weakly: a handler that goes away takes its entry along).
    """
    import gradio.utils as gradio_utils

    if getattr(gradio_utils.get_type_hints, _INSTALLED_FLAG, False):
        return True
    original = gradio_utils.get_type_hints
    if list(inspect.signature(original).parameters) != ["fn"]:
        log.warning("Gradio's get_type_hints changed shape; type hints are read at every event")
        return False
    known: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get_type_hints(fn: Any) -> dict:
        key = getattr(fn, "__func__", fn)  # a bound method is made anew at each attribute access; its function is not
        try:
            return dict(known[key])
        except (KeyError, TypeError):  # not seen yet, or not weakly referable (then not kept)
            hints = original(fn)
        try:
            known[key] = hints
        except TypeError:
            pass
        return dict(hints)

    setattr(get_type_hints, _INSTALLED_FLAG, True)
    get_type_hints.__wrapped__ = original  # type: ignore[attr-defined]
    gradio_utils.get_type_hints = get_type_hints
    return True


def keep_state_configs() -> bool:
    """Let a session's ``gr.State`` writes skip recomputing that State's configuration; True if in place.

    Why: Gradio recomputes a component's configuration whenever a session
    writes it, a State included, though a State's configuration leaves its
    value out and so never changes. A battle writes two States a few times
    per round (which buttons are on, the battle id); each recomputation
    inspected the State's constructor. The session still gets its value and
    time-to-live exactly as before; only the unchanged configuration is kept.
    """
    import gradio.state_holder as state_holder
    from gradio.components import State

    original = state_holder.SessionState.__setitem__
    if getattr(original, _INSTALLED_FLAG, False):
        return True
    source = inspect.getsource(original)
    if not all(name in source for name in ("_state_ttl", "state_data", "config_values", "time_to_live", "datetime.datetime.now()")):
        log.warning("Gradio's SessionState changed shape; State writes recompute their configuration")
        return False

    def __setitem__(self: Any, key: int, value: Any) -> None:  # noqa: N807 - replaces Gradio's own
        block = self.blocks_config.blocks.get(key)
        if isinstance(block, State) and key in self.config_values:
            self._state_ttl[key] = (block.time_to_live, datetime.datetime.now())
            self.state_data[key] = value
            return
        original(self, key, value)

    setattr(__setitem__, _INSTALLED_FLAG, True)
    __setitem__.__wrapped__ = original  # type: ignore[attr-defined]
    state_holder.SessionState.__setitem__ = __setitem__
    return True


def install() -> bool:
    """Install the shortcut once per process, and the other fixes but the login check (which needs the app); True if the shortcut is in place."""
    from gradio.blocks import Block, Blocks

    remember_missing_modules()
    process_text_components_inline()
    summarise_analytics_only_when_due()
    remember_type_hints()
    keep_state_configs()

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
        done: dict[int, Any] = {}
        if state is not None:
            for block in touched:
                result = prop_updates.apply(block, by_id[block._id], state, postprocess=block_fn.postprocess)
                if result is not None:
                    done[block._id] = result
        rest = [block for block in touched if block._id not in done]
        processed: list[Any] = []
        if rest:
            fewer = {block: by_id[block._id] for block in rest}
            processed = await original(self, _FewerOutputs(block_fn, rest), fewer, state)
        results = iter(processed)
        touched_ids = {block._id for block in touched}
        return [done[block._id] if block._id in done else next(results) if block._id in touched_ids
                else (None if block.stateful else dict(_SKIP)) for block in outputs]

    setattr(postprocess_data, _INSTALLED_FLAG, True)
    postprocess_data.__doc__ = original.__doc__
    Blocks.postprocess_data = postprocess_data  # type: ignore[method-assign]
    return True
