"""Each framework patch, driven through the framework's own call site, once as shipped and once patched.

Every test measures the cost a patch removes with Gradio as shipped first (so
the test would fail if the patch became a no-op), then with the patch, and
checks that what the browser receives is the same. The registry
(``arena/patches.py``) is checked here too: its start-up line and gauges.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Iterator

import anyio
import gradio as gr
import gradio.blocks as gradio_blocks
import pytest
from gradio.blocks import Blocks
from gradio.state_holder import SessionState
from prometheus_client import REGISTRY

from arena import patches
from arena.ui import gradio_speedups

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"), pytest.mark.filterwarnings("ignore:The copy keyword")]


class SpyText(gr.Textbox):
    """A Textbox that records the thread its output conversion ran in."""

    threads: list[int] = []

    def postprocess(self, value: Any) -> Any:
        SpyText.threads.append(threading.get_ident())
        return super().postprocess(value)


def battle_like_demo() -> tuple[Blocks, dict[str, Any]]:
    """An event shaped like a streaming battle's: it names one output (the pane) of five, one of them a State."""
    with gr.Blocks() as demo:
        chat, title, button, box, remembered = gr.Chatbot(), gr.Markdown("t"), gr.Button("b"), SpyText(), gr.State({})

        def stream_update(prompt: str, memory: dict, request: gr.Request) -> dict:
            return {chat: [{"role": "user", "content": prompt}], box: prompt, remembered: {"turns": len(memory) + 1}}

        button.click(stream_update, inputs=[box, remembered], outputs=[chat, title, button, box, remembered])
    demo.config = demo.get_config_file()
    return demo, {"chat": chat, "title": title, "button": button, "box": box, "state": remembered, "handler": stream_update}


def run_events(demo: Blocks, times: int = 3) -> tuple[list[Any], SessionState, int]:
    """Gradio's own event path (``Blocks.process_api``, what the queue calls) *times* in one session: (outputs, state, loop thread)."""
    state = SessionState(demo)
    results = []

    async def go() -> int:
        for _ in range(times):
            results.append((await demo.process_api(demo.fns[0], ["hi", None], state=state, request=None))["data"])
        return threading.get_ident()

    loop_thread = asyncio.run(go())
    return results, state, loop_thread


@pytest.fixture
def as_shipped(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Gradio without any of the patches, for the length of a test (whatever other tests installed)."""

    def original(owner: Any, name: str) -> None:
        current = getattr(owner, name)
        monkeypatch.setattr(owner, name, getattr(current, "__wrapped__", current))

    original(Blocks, "postprocess_data")
    monkeypatch.setattr(gradio_blocks, "anyio", anyio)
    yield


def test_skip_untouched_outputs(as_shipped: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs an event does not name are not rebuilt; the browser gets exactly what Gradio would send."""
    demo, parts = battle_like_demo()
    expected, state, _ = run_events(demo)
    assert state.blocks_config.blocks[parts["title"]._id] is not parts["title"]  # Gradio rebuilt the untouched title
    assert gradio_speedups.skip_untouched_outputs() and gradio_speedups.skip_untouched_outputs()  # idempotent
    demo, parts = battle_like_demo()
    got, state, _ = run_events(demo)
    assert got == expected
    assert state.blocks_config.blocks[parts["title"]._id] is parts["title"]  # left alone
    assert state.blocks_config.blocks[parts["button"]._id] is parts["button"]


def test_text_components_inline(as_shipped: None) -> None:
    """Text components are converted in the event loop's thread instead of a worker thread each."""
    demo, _ = battle_like_demo()
    SpyText.threads.clear()
    expected, _, loop_thread = run_events(demo)
    assert SpyText.threads and all(thread != loop_thread for thread in SpyText.threads)  # a worker-thread trip each
    assert gradio_speedups.process_text_components_inline() and gradio_speedups.process_text_components_inline()
    demo, _ = battle_like_demo()
    SpyText.threads.clear()
    got, _, loop_thread = run_events(demo)
    assert got == expected and SpyText.threads and set(SpyText.threads) == {loop_thread}


def test_the_registry_logs_one_line_and_exports_a_gauge_per_patch(caplog: pytest.LogCaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fine(_demo: object) -> bool:
        calls.append("fine")
        return True

    def declines(_demo: object) -> bool:
        return False

    def broken(_demo: object) -> bool:
        raise AttributeError("'Queue' object has no attribute 'push'")

    registry = (patches.Patch("fine", "x", "y", "z", fine), patches.Patch("declines", "x", "y", "z", declines),
                patches.Patch("broken", "x", "y", "z", broken), patches.Patch("left_out", "x", "y", "z", fine))
    monkeypatch.setattr(patches, "PATCHES", registry)
    with caplog.at_level(logging.INFO, logger="arena.patches"):
        active = patches.install_all(object(), off="left_out,typo")
    assert active == {"fine": True, "declines": False, "broken": False, "left_out": False} and calls == ["fine"]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("framework patches:")]
    assert lines == ["framework patches: active fine; declined declines (the framework changed shape), "
                     "broken (the framework changed shape), left_out (turned off)"]
    assert "typo" in caplog.text and "AttributeError" in caplog.text
    gauge = {name: REGISTRY.get_sample_value("arena_framework_patch_active", {"patch": name}) for name in active}
    assert gauge == {"fine": 1.0, "declines": 0.0, "broken": 0.0, "left_out": 0.0}


def test_every_registered_patch_has_its_test_and_its_upstream_note() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    tests = (root / "tests" / "test_patches.py").read_text()
    notes = (root / "docs" / "upstream-notes.md").read_text()
    for patch in patches.PATCHES:
        assert f"def test_{patch.name}" in tests, f"{patch.name} has no test driving the framework's call site"
        assert f"`{patch.name}`" in notes, f"{patch.name} has no note in docs/upstream-notes.md"


@pytest.fixture
def serve_mounted() -> Iterator[Any]:
    """Serve a queued gr.Blocks the way the app does: mounted on a FastAPI app of our own, run by uvicorn, in a thread."""
    import time

    import fastapi
    import httpx
    import uvicorn

    from arena.security import ApiGuard
    from tests.upstream import free_port

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(demo: Blocks, *, guard: bool = False) -> str:
        app = gr.mount_gradio_app(fastapi.FastAPI(), demo, path="/")
        if guard:
            app.add_middleware(ApiGuard, blocks=demo)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/config", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.05)

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def one_button_demo() -> Blocks:
    with gr.Blocks() as demo:
        box = gr.Textbox()
        gr.Button("Go").click(lambda: "done", outputs=box, api_name="go")
    demo.queue()
    return demo


def call_go(url: str, times: int = 1) -> list[float]:
    """Run the demo's 'go' event *times* over Gradio's queue protocol; seconds each took."""
    import time

    import httpx

    from tests.gradio_http import AppConfig, Session

    async def calls() -> list[float]:
        async with httpx.AsyncClient(timeout=30) as client:
            session = Session(client, await AppConfig.fetch(client, url))
            took = []
            for _ in range(times):
                started = time.monotonic()
                reply = await session.call("go")
                assert reply.success and "done" in reply.text(), reply.text()
                took.append(time.monotonic() - started)
            await session.close()
            return took

    return asyncio.run(calls())


class CountingAsyncio:
    """Stands in for ``asyncio`` inside ``gradio.queueing`` and counts the sleeps of a given length."""

    def __init__(self, real: Any, length: Any) -> None:
        self._real, self._length, self.count = real, length, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        if delay == self._length():
            self.count += 1
        return await self._real.sleep(delay, result)


def test_queue_polls_gently(serve_mounted: Any) -> None:
    """An idle queue checks for work every 5 ms instead of every millisecond, and new work still starts promptly."""
    import time

    import gradio.queueing as queueing

    from arena.ui import queue_naps

    shipped = one_button_demo()
    counter = CountingAsyncio(asyncio, lambda: shipped._queue.sleep_when_free)
    queueing.asyncio = counter  # (restored below: the module's own asyncio)
    try:
        serve_mounted(shipped)
        time.sleep(1.0)
        assert counter.count > 500  # Gradio's loop looks for work every millisecond
        patched = one_button_demo()
        assert queue_naps.install(patched._queue) and queue_naps.install(patched._queue)
        counter = CountingAsyncio(asyncio, lambda: patched._queue.sleep_when_free)
        queueing.asyncio = counter
        url = serve_mounted(patched)
        time.sleep(1.0)
        # Still polling (a stopped loop would pass an upper bound alone), at most once per IDLE_POLL_S.
        assert 0.2 / queue_naps.IDLE_POLL_S <= counter.count <= 1.0 / queue_naps.IDLE_POLL_S + 20
    finally:
        queueing.asyncio = asyncio
    assert max(call_go(url, times=3)) < 0.5
    assert not queue_naps.install(object())  # a queue without those intervals: declined, not broken


def test_session_streams_known(serve_mounted: Any) -> None:
    """ApiGuard reads Gradio's table of open sessions: a stream for a session without events is refused cleanly."""
    import httpx

    from arena.security import pending_sessions

    demo = one_button_demo()
    url = serve_mounted(demo, guard=True)
    assert isinstance(pending_sessions(demo), dict)
    refused = httpx.get(f"{url}/gradio_api/queue/data", params={"session_hash": "never-joined"}, timeout=10)
    assert refused.status_code == 404 and "join an event first" in refused.json()["detail"]
    assert call_go(url)  # a session that joined gets its stream


def test_missing_modules_remembered(serve_mounted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An optional module that is absent is looked for on disk once, not at every event."""
    import importlib.util
    import sys

    from arena.responsiveness import remember_missing_modules

    if sys.modules.get("matplotlib", 0) is not None and importlib.util.find_spec("matplotlib") is not None:
        pytest.skip("matplotlib is installed here: nothing to remember")
    searched: list[str] = []

    class Watcher:
        @staticmethod
        def find_spec(name: str, *args: Any, **kwargs: Any) -> None:
            searched.append(name)

    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)  # as shipped: nothing known
    url = serve_mounted(one_button_demo())
    monkeypatch.setattr(sys, "meta_path", [Watcher(), *sys.meta_path])
    call_go(url, times=3)
    assert searched.count("matplotlib") >= 3  # Gradio imports it around every event; each failed import searches again
    assert "matplotlib" in remember_missing_modules()
    searched.clear()
    call_go(url, times=3)
    assert searched.count("matplotlib") == 0
