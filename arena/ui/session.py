"""Who is asking: the Gradio session and the client address (hashed later, never stored raw)."""

from __future__ import annotations

import gradio as gr


def identify(request: gr.Request | None, *, trust_forwarded_for: bool = False) -> tuple[str, str]:
    """(session id, raw client identity) for a request; the identity falls back to the session."""
    if request is None:
        return "no-session", "no-session"
    session = request.session_hash or "no-session"
    client = getattr(request, "client", None)
    address = getattr(client, "host", None) or session
    if trust_forwarded_for:
        forwarded = (request.headers or {}).get("x-forwarded-for", "")
        if forwarded:
            address = forwarded.split(",")[0].strip()
    return session, address
