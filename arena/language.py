"""Language of a prompt, detected offline (langdetect's bundled profiles), for leaderboard categories."""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import multiprocessing
import os
import threading

from arena.text_stats import count_tokens

log = logging.getLogger(__name__)

MIN_TOKENS = 3
_LOCK = threading.Lock()  # langdetect's factory is lazily initialised and not thread-safe
_helper: concurrent.futures.ProcessPoolExecutor | None = None


@functools.lru_cache(maxsize=4096)
def detect_language(text: str) -> str | None:
    """ISO 639-1 code (e.g. 'en'), or None when the text is too short or undecidable.

    Cached: the arena detects a battle's language once its answers are stored,
    so that the vote, which needs it, is acknowledged without waiting for it.
    In the web app the detection runs in a helper process (see
    :func:`use_helper_process`); elsewhere in this one.
    """
    if count_tokens(text) < MIN_TOKENS:
        return None
    helper = _helper
    if helper is not None:
        try:
            return helper.submit(_detect, text).result()
        except Exception as exc:  # noqa: BLE001 - a dead helper must not cost a vote: detect here instead
            log.warning("language helper process failed (%r); detecting in the app process", exc)
    return _detect(text)


def _detect(text: str) -> str | None:
    from langdetect import DetectorFactory, LangDetectException, detect

    with _LOCK:
        DetectorFactory.seed = 0  # deterministic answers
        try:
            return detect(text)
        except LangDetectException:
            return None


def use_helper_process() -> None:
    """Detect languages in a helper process from now on (the web app calls this once at start).

    Why: langdetect is pure Python, a few milliseconds per battle. In a thread
    of the app it still holds the interpreter lock those milliseconds, so it
    slowed every other event; in its own process it runs on another core.
    The helper is started with ``spawn`` (the app has threads by then) and
    warmed up here, so the first battle does not wait for it.
    """
    global _helper
    if _helper is not None:
        return
    helper = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_exit_with_parent)
    helper.submit(_detect, "warming up the language detector").result()
    _helper = helper


def _exit_with_parent() -> None:
    """In the helper: end when the app process ends, however it ends.

    Why: a worker of a process pool holds both ends of its task pipe, so it
    never sees the app go; after a SIGTERM or SIGKILL (no clean shutdown) it
    waited forever, about 100 MB each.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the sentinel pipe closes, i.e. the parent exited
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def stop_helper_process() -> None:
    """Back to detecting in this process (tests use it to clean up)."""
    global _helper
    helper, _helper = _helper, None
    if helper is not None:
        helper.shutdown(wait=True, cancel_futures=True)
