"""SIGTERM stops the app gracefully: a battle being answered finishes and is stored, then the app exits."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from arena.store import Store
from arena.tables import Message
from tests.gradio_http import AppConfig, Session
from tests.helpers import PROJECT_ROOT
from tests.test_service import models_yaml
from tests.upstream import Behavior, Upstream, free_port

SLOW = Behavior(reply="one two three four five six seven eight", chunks=8, token_delay_s=0.25)  # about 2 s


def test_sigterm_lets_the_running_battle_finish_and_be_stored(tmp_path: Path, up: Upstream, up2: Upstream) -> None:
    up.behavior = up2.behavior = SLOW
    (tmp_path / "models.yaml").write_text(models_yaml(up.url, up2.url))
    database = f"sqlite:///{tmp_path / 'arena.sqlite3'}"
    port = free_port()
    log = tmp_path / "app.log"
    env = {**os.environ, "ARENA_DATABASE_URL": database, "ARENA_MODELS_WATCH_INTERVAL": "0"}
    app = subprocess.Popen([sys.executable, "app.py", "--models", str(tmp_path / "models.yaml"), "--host", "127.0.0.1",
                            "--port", str(port)], cwd=PROJECT_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert app.poll() is None, log.read_text()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)

        async def battle_interrupted_by_sigterm():  # noqa: ANN202
            async with httpx.AsyncClient(timeout=30) as client:
                session = Session(client, await AppConfig.fetch(client, url))
                sending = asyncio.create_task(session.call("battle_send", "Count to eight, please."))
                while not up.requests:  # the models are being asked
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)  # mid-answer
                app.send_signal(signal.SIGTERM)
                return await sending

        reply = asyncio.run(battle_interrupted_by_sigterm())
        assert app.wait(20) == 0, log.read_text()  # a clean exit, not death by signal (-15)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert reply.success and "eight" in reply.text(), reply.text()[-500:]  # the answer streamed to its end
    store = Store(database, migrate=False)
    try:
        with store.session() as session:
            stored = session.scalars(select(Message.content).where(Message.role == "assistant")).all()
    finally:
        store.close()
    assert stored == ["one two three four five six seven eight"] * 2  # both answers of the turn were stored
