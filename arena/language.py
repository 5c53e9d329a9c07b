"""Language of a prompt, detected offline (langdetect's bundled profiles), for leaderboard categories."""

from __future__ import annotations

import functools
import threading

from arena.text_stats import count_tokens

MIN_TOKENS = 3
_LOCK = threading.Lock()  # langdetect's factory is lazily initialised and not thread-safe


@functools.lru_cache(maxsize=4096)
def detect_language(text: str) -> str | None:
    """ISO 639-1 code (e.g. 'en'), or None when the text is too short or undecidable.

    Cached: the arena detects a battle's language once its answers are stored,
    so that the vote, which needs it, is acknowledged without waiting for it.
    """
    if count_tokens(text) < MIN_TOKENS:
        return None
    from langdetect import DetectorFactory, LangDetectException, detect

    with _LOCK:
        DetectorFactory.seed = 0  # deterministic answers
        try:
            return detect(text)
        except LangDetectException:
            return None
