"""Crash consistency: concurrent voters while the app is killed with SIGKILL and restarted, on SQLite and PostgreSQL.

Every vote a client saw acknowledged must be stored exactly once. Votes that
were committed but whose acknowledgement was lost in the crash may be stored
too (the client could not know); nothing may be stored twice or half.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from sqlalchemy import text

from arena.store import Store
from tests.helpers import PROJECT_ROOT, models_yaml
from tests.upstream import Behavior, Upstream
from tests.vllm_server import free_port

KILLS = 3
VOTERS = 4


class App:
    """``app.py`` as a child process on a fixed port, killed and restarted at will."""

    def __init__(self, folder: Path, database_url: str) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {**os.environ, "ARENA_DATABASE_URL": database_url, "ARENA_MODELS_WATCH_INTERVAL": "0",
                    "ARENA_PROMPTS_PER_MINUTE": "100000", "ARENA_VOTES_PER_MINUTE": "100000",
                    "ARENA_BATTLES_PER_HOUR": "100000", "ARENA_VOTES_PER_DAY": "100000", "ARENA_MIN_VOTE_SECONDS": "0"}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.folder / f"app-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "--models", str(self.folder / "models.yaml"), "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / f"app-{self.starts}.log").read_text()
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        pytest.fail("the app did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def voter(url: str, acknowledged: list[str], stop: threading.Event, seed: int) -> None:
    """Play battles and vote until told to stop; a failure (the app died) means: reconnect and start over."""
    rng = random.Random(seed)
    while not stop.is_set():
        try:
            client = Client(url, verbose=False)
            while not stop.is_set():
                token = uuid.uuid4().hex
                client.submit(f"crash test {token}", api_name="/battle_send").result(timeout=20)
                vote = rng.choice(["/battle_vote_model_a", "/battle_vote_model_b", "/battle_vote_tie"])
                outputs = client.submit(api_name=vote).result(timeout=20)
                if "Your vote was recorded" in json.dumps(outputs):
                    acknowledged.append(token)
                client.submit(api_name="/battle_new_round").result(timeout=20)
        except Exception:  # noqa: BLE001 - the app was killed under us: try again once it is back
            time.sleep(0.3)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_acknowledged_votes_survive_sigkill(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    database_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    fast = Behavior(reply="Quick answer.", chunks=2)
    with Upstream(fast) as one, Upstream(fast) as two:
        (tmp_path / "models.yaml").write_text(models_yaml(one.url, two.url))
        app = App(tmp_path, database_url)
        app.start()
        acknowledged: list[str] = []
        stop = threading.Event()
        threads = [threading.Thread(target=voter, args=(app.url, acknowledged, stop, i), daemon=True) for i in range(VOTERS)]
        for thread in threads:
            thread.start()
        rng = random.Random(7)
        acknowledged_at_kill = []
        try:
            for _ in range(KILLS + 1):
                seen = len(acknowledged)
                deadline = time.monotonic() + 90
                while len(acknowledged) <= seen and time.monotonic() < deadline:  # voting has resumed since the restart
                    time.sleep(0.1)
                if len(acknowledged_at_kill) == KILLS:
                    break
                time.sleep(rng.uniform(0.0, 2.0))  # then a random moment in the stream of battles and votes
                acknowledged_at_kill.append(len(acknowledged))
                app.kill()
                app.start()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            app.stop()

    print(f"acknowledged {len(acknowledged)} votes; at each kill: {acknowledged_at_kill}; app starts: {app.starts}")
    assert acknowledged_at_kill[0] > 0 and len(acknowledged) > acknowledged_at_kill[-1]  # votes before and after crashes
    store = Store(database_url, migrate=False)
    with store.engine.connect() as conn:
        transcripts = [row[0] for row in conn.execute(text("SELECT transcript FROM votes"))]
        votes, battles = conn.execute(text("SELECT COUNT(*), COUNT(DISTINCT battle_id) FROM votes")).one()
        orphans = conn.execute(text("SELECT COUNT(*) FROM votes v LEFT JOIN battles b ON b.id = v.battle_id WHERE b.id IS NULL")).scalar()
        counted = conn.execute(text("SELECT COALESCE(SUM(n), 0) FROM vote_counts WHERE category = 'overall'")).scalar()
    store.close()
    stored = [str(t) for t in transcripts]
    for token in acknowledged:
        assert sum(token in t for t in stored) == 1, f"acknowledged vote {token} stored {sum(token in t for t in stored)} times"
    assert votes == battles and orphans == 0  # one vote per battle, none without its battle
    assert counted == votes  # the counts were updated in the same transaction as each vote
