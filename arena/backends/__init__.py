"""Model backends: one protocol, two implementations (remote OpenAI-compatible, in-process)."""

from __future__ import annotations

from arena.backends.base import (
    Backend,
    BackendError,
    GenerationStats,
    Health,
    Message,
    SamplingParams,
)
from arena.config import ModelSpec
from arena.settings import Settings

__all__ = ["Backend", "BackendError", "GenerationStats", "Health", "Message", "SamplingParams", "build_backend"]


def build_backend(spec: ModelSpec, settings: Settings) -> Backend | None:
    """The backend for *spec*, or None when it has no usable endpoint (e.g. an unset ``${VAR}``)."""
    if spec.backend == "local":
        from arena.backends.local import LocalBackend

        return LocalBackend(
            spec.model,
            cache_dir=settings.cache_dir,
            threads=settings.local_threads,
            max_concurrency=spec.max_concurrency,
        )
    from arena.backends.openai_compat import OpenAICompatBackend, Timeouts

    endpoints = spec.resolved_endpoints()
    if not endpoints:
        return None
    timeouts = Timeouts(settings.connect_timeout, settings.first_token_timeout, settings.total_timeout)
    return OpenAICompatBackend.from_spec(spec, endpoints, timeouts)
