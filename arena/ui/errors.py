"""Friendly errors: a voter never sees a stack trace, and an operator can still find it.

Why: with ``show_error=False`` Gradio turns an unexpected exception into a bare
"Error" toast, which tells the voter nothing; with ``show_error=True`` it shows
internals. Here an unexpected exception is logged with a short reference and
the browser gets one plain sentence quoting that reference, so a bug report can
be matched to its log line. Expected refusals (``gr.Error`` raised on purpose)
pass through unchanged.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from typing import Any, Callable, TypeVar

import gradio as gr

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def trouble_message(where: str, exc: BaseException) -> str:
    """Log *exc* (with its traceback) under a fresh reference; return what the voter reads."""
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected error in %s (reference %s)", where, reference, exc_info=exc)
    return f"Something went wrong on our side (reference {reference}). Please try again in a moment."


def friendly_errors(handler: F) -> F:
    """Wrap a Gradio handler of any kind (sync, async, generator, async generator) as described above.

    The wrapper keeps the handler's kind and signature, which Gradio inspects to
    decide how to call it and which arguments (``gr.Request``) to inject.
    """
    where = getattr(handler, "__qualname__", repr(handler))

    def translate(exc: Exception) -> gr.Error:
        return gr.Error(trouble_message(where, exc), print_exception=False)

    if inspect.isasyncgenfunction(handler):
        @functools.wraps(handler)
        async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                async for item in handler(*args, **kwargs):
                    yield item
            except gr.Error:
                raise
            except Exception as exc:  # noqa: BLE001 - every handler failure becomes a friendly gr.Error: the point of this wrapper
                raise translate(exc) from None
        return async_gen_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(handler):
        @functools.wraps(handler)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:  # noqa: BLE001 - every handler failure becomes a friendly gr.Error: the point of this wrapper
                raise translate(exc) from None
        return async_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:  # noqa: BLE001 - every handler failure becomes a friendly gr.Error: the point of this wrapper
                raise translate(exc) from None
        return gen_wrapper  # type: ignore[return-value]

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - every handler failure becomes a friendly gr.Error: the point of this wrapper
            raise translate(exc) from None
    return wrapper  # type: ignore[return-value]
