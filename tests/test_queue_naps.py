"""Gradio's queue naps while idle and is woken by new work (arena/ui/queue_naps.py)."""

from __future__ import annotations

import asyncio
import time

import gradio as gr
import gradio.queueing
import httpx
import pytest

from arena.ui import queue_naps
from tests.gradio_http import AppConfig, Session
from tests.upstream import free_port

# Gradio's queue sets pandas options that pandas 3 deprecates (not ours to fix).
pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"), pytest.mark.filterwarnings("ignore:The copy keyword")]


@pytest.fixture
def napping_app(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """A one-button Gradio app on 127.0.0.1 whose queue naps up to 3 s: long enough to tell a wake-up from a timeout."""
    monkeypatch.setattr(queue_naps, "NAP_S", 3.0)
    with gr.Blocks() as demo:
        box = gr.Textbox()
        gr.Button("Go").click(lambda: "done", outputs=box, api_name="go")
    demo.queue()
    assert queue_naps.install(demo._queue)
    assert queue_naps.install(demo._queue)  # idempotent
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}", demo
    finally:
        demo.close()


def test_new_work_ends_the_nap_at_once(napping_app) -> None:  # noqa: ANN001
    url, _ = napping_app

    async def call() -> float:
        async with httpx.AsyncClient(timeout=30) as client:
            session = Session(client, await AppConfig.fetch(client, url))
            await asyncio.sleep(0.2)  # the queue is napping by now
            started = time.monotonic()
            reply = await session.call("go")
            assert reply.success and "done" in reply.text()
            return time.monotonic() - started

    assert all(seconds < 1.5 for seconds in [asyncio.run(call()) for _ in range(3)])  # woken, not timed out (3 s)


def test_an_idle_queue_does_not_poll(napping_app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    _, demo = napping_app
    shim = gradio.queueing.asyncio
    assert isinstance(shim, queue_naps._NappingAsyncio)
    naps: list[float] = []
    real_sleep = shim.sleep

    async def counting(delay: float, result: object = None) -> object:
        if delay == demo._queue.sleep_when_free:  # the queue loop's wait for work, whatever its length
            naps.append(delay)
        return await real_sleep(delay, result)

    monkeypatch.setattr(shim, "sleep", counting)
    time.sleep(1.0)
    assert len(naps) <= 2  # Gradio's own loop checked for work every millisecond: hundreds of times a second
