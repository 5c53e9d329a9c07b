"""The contract every model backend fulfils, and the values it produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import AsyncIterator, Literal, Protocol

Message = dict[str, str]
ErrorKind = Literal["unavailable", "connect", "interrupted", "first_token_timeout", "timeout", "http", "protocol", "internal"]

# What a voter sees for each failure kind: short, and never naming a model or endpoint.
PUBLIC_ERROR_TEXT: dict[str, str] = {
    "unavailable": "this model is not available right now",
    "connect": "could not reach the model server",
    "interrupted": "the connection to the model server broke mid-answer",
    "first_token_timeout": "the model did not start answering in time",
    "timeout": "the answer took too long",
    "http": "the model server returned an error",
    "protocol": "the model server sent a malformed answer",
    "internal": "the model failed while answering",
}


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    top_p: float
    max_tokens: int


@dataclass
class GenerationStats:
    """Filled in by a backend while it streams; read once the stream ends."""

    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    first_token_s: float | None = None
    duration_s: float | None = None
    endpoint: str | None = None
    attempts: int = 0


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""
    served_models: tuple[str, ...] = field(default_factory=tuple)


class BackendError(Exception):
    """A generation failed; *kind* is safe to show, *detail* is for logs and the store."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail

    @property
    def public_message(self) -> str:
        return PUBLIC_ERROR_TEXT.get(self.kind, PUBLIC_ERROR_TEXT["internal"])


class Backend(Protocol):
    """Streams an answer to a chat history; reports whether it can serve."""

    def stream(self, messages: list[Message], params: SamplingParams, stats: GenerationStats) -> AsyncIterator[str]:
        """Yield text chunks of the assistant's answer, filling *stats* as it goes."""
        ...

    async def health(self) -> Health:
        """Probe the backend without generating."""
        ...

    async def aclose(self) -> None:
        """Release connections or threads."""
        ...
