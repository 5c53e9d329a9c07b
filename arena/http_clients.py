"""HTTP clients that share one TLS context: opening a client costs a dictionary, not a CA bundle.

Why: httpx builds a TLS context for every ``AsyncClient`` it opens, reading
and parsing the CA bundle: 20-90 ms of CPU, spent in the event loop, where
nothing else moves meanwhile (the same holds for any thread: it keeps the
GIL). The app opens clients for each model's health probe every few seconds,
for each new lane of streams under load, and for each moderation call. Under
load (``bench/load.py``, a timer around every event-loop callback) those
were the longest stalls left, up to 92 ms. A TLS context may serve any number
of connections, so every client now gets the same one, built on first use.
Clients themselves stay per use: each is bound to the event loop it runs on.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

import httpx

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The process's TLS context: httpx's own defaults (certifi's CA bundle, ``SSL_CERT_FILE`` honoured), built once."""
    global _context
    with _lock:
        if _context is None:
            _context = httpx.create_ssl_context()
        return _context


def async_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with *options* and the shared TLS context."""
    return httpx.AsyncClient(verify=tls_context(), **options)
