"""SIGTERM stops the app gracefully: a battle being answered finishes and is stored, then the app exits."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from arena.store import Store
from arena.tables import Message
from tests.gradio_http import AppConfig, Session
from tests.helpers import app_process, models_yaml
from tests.upstream import Behavior, Upstream

SLOW = Behavior(reply="one two three four five six seven eight", chunks=8, token_delay_s=0.25)  # about 2 s


def test_sigterm_lets_the_running_battle_finish_and_be_stored(tmp_path: Path, up: Upstream, up2: Upstream) -> None:
    up.behavior = up2.behavior = SLOW
    (tmp_path / "models.yaml").write_text(models_yaml(up.url, up2.url))
    database = f"sqlite:///{tmp_path / 'arena.sqlite3'}"
    with app_process(tmp_path, tmp_path / "models.yaml", {"ARENA_DATABASE_URL": database}) as (app, url, log):
        async def battle_interrupted_by_sigterm():
            async with httpx.AsyncClient(timeout=30) as client:
                session = Session(client, await AppConfig.fetch(client, url.rstrip("/")))
                # An open page keeps a heartbeat stream; it must not hold the stop for the whole grace period.
                heartbeat = asyncio.create_task(client.get(f"{url}gradio_api/heartbeat/{session.session_hash}", timeout=60))
                sending = asyncio.create_task(session.call("battle_send", "Count to eight, please."))
                while not up.requests:  # the models are being asked
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)  # mid-answer
                app.send_signal(signal.SIGTERM)
                stopping = time.monotonic()
                reply = await sending
                while app.poll() is None and time.monotonic() - stopping < 25:  # the page (and its heartbeat) stays open
                    await asyncio.sleep(0.1)
                assert time.monotonic() - stopping < 10, "the stop waited for the open page's heartbeat stream"
                heartbeat.cancel()
                return reply

        reply = asyncio.run(battle_interrupted_by_sigterm())
        assert app.wait(20) == 0, log.read_text()  # a clean exit, not death by signal (-15), and not after the grace period
    assert reply.success and "eight" in reply.text(), reply.text()[-500:]  # the answer streamed to its end
    store = Store(database, migrate=False)
    try:
        with store.session() as session:
            stored = session.scalars(select(Message.content).where(Message.role == "assistant")).all()
    finally:
        store.close()
    assert stored == ["one two three four five six seven eight"] * 2  # both answers of the turn were stored
