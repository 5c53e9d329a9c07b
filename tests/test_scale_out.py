"""Two app instances on two ports sharing one PostgreSQL database: concurrent votes are neither lost nor
duplicated, and both instances show the same leaderboard."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from gradio_client import Client
from sqlalchemy import func, select

from arena.store import Store
from arena.tables import Vote, VoteCount
from tests.helpers import PROJECT_ROOT, models_yaml
from tests.upstream import Upstream
from tests.vllm_server import free_port

VOTES = ["/battle_vote_model_a", "/battle_vote_model_b", "/battle_vote_tie", "/battle_vote_tie_bothbad"]


def start_instance(folder: Path, database_url: str, name: str) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = {**os.environ, "ARENA_DATABASE_URL": database_url, "ARENA_MODELS_WATCH_INTERVAL": "0",
           "ARENA_PROMPTS_PER_MINUTE": "1000", "ARENA_VOTES_PER_MINUTE": "1000"}  # all voters here are 127.0.0.1: one judge
    log = folder / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "app.py", "--models", str(folder / "models.yaml"), "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}/", log


def wait_up(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    pytest.fail(f"instance did not start:\n{log.read_text()}")


@pytest.fixture
def two_instances(tmp_path: Path, postgres_url: str, up: Upstream, up2: Upstream) -> Iterator[list[str]]:
    (tmp_path / "models.yaml").write_text(models_yaml(up.url, up2.url))
    instances = [start_instance(tmp_path, postgres_url, name) for name in ("one", "two")]  # both migrate at once
    try:
        for process, url, log in instances:
            wait_up(process, url, log)
        yield [url for _, url, _ in instances]
    finally:
        for process, _, _ in instances:
            process.terminate()
        for process, _, _ in instances:
            process.wait(timeout=20)


def test_concurrent_votes_on_two_instances_are_all_counted_once(two_instances: list[str], postgres_url: str) -> None:
    acknowledged: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def voter(index: int) -> None:
        try:
            client = Client(two_instances[index % 2], verbose=False)
            rng = random.Random(index)
            for turn in range(4):
                job = client.submit(f"Question {index}.{turn}?", api_name="/battle_send")
                job.result()
                vote = rng.choice(VOTES)
                client.predict(api_name=vote)
                client.predict(api_name=vote)  # a double click: the same vote, stored once
                with lock:
                    acknowledged.append(vote)
                client.predict(api_name="/battle_new_round")
        except BaseException as exc:  # noqa: BLE001 - a voter thread hands whatever it hits to the test, reported below
            errors.append(exc)

    threads = [threading.Thread(target=voter, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert len(acknowledged) == 24

    store = Store(postgres_url, migrate=False)
    with store.session() as session:
        votes = session.scalar(select(func.count()).select_from(Vote))
        battles = session.scalar(select(func.count(func.distinct(Vote.battle_id))))
        counted = session.scalar(select(func.sum(VoteCount.n)).where(VoteCount.category == "overall"))
    store.close()
    assert votes == battles == counted == 24  # nothing lost, nothing twice, every vote in the counts

    boards = [Client(url, verbose=False).predict("overall", False, api_name="/leaderboard")[2]["data"] for url in two_instances]
    # Online Elo (column 5) folds a vote in only once it is a few seconds old, so it may lag by a vote between calls.
    same = [[row[:5] + row[6:] for row in board] for board in boards]
    assert same[0] == same[1] and sum(row[4] for row in boards[0]) == 2 * 24  # each vote counts for two models
