"""The judging worker survives SIGKILL mid-queue: after a restart every vote has one finished verdict, none judged twice.

The real CLI (``python -m arena judge``) runs in a child process with an LLM
judge on a slow scripted upstream, so the kill lands while readings are in
flight; the test kills it once some but not all rows are saved, restarts it,
lets it finish and checks the store and what the upstream was asked.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from arena.store import Store
from tests.helpers import PROJECT_ROOT, battle, llm_judge_yaml
from tests.upstream import Behavior, Upstream

VOTES = 40
KILL_AFTER = 8  # saved rows before the kill (of VOTES)
_ANSWERS = re.compile(r"\[Answer 1\]\n(alpha|beta) answers (\d+)\.0")


def scripted_reply(body: dict[str, Any]) -> str:
    """The stub judge: battle i's winner is fixed by i, whatever the order; some battles get a garbled or a biased reply."""
    match = _ANSWERS.search(body["messages"][-1]["content"])
    assert match, body["messages"][-1]["content"]
    first, number = match.group(1), int(match.group(2))
    if number % 5 == 4:
        return "I cannot decide."  # unparseable in both orders: invalid
    if number % 5 == 3:
        return "Rationale: the first one.\nVerdict: 1"  # position bias: a tie, inconsistent
    winner = ("alpha", "beta", "tie")[number % 3]
    verdict = "tie" if winner == "tie" else "1" if winner == first else "2"
    return f"Rationale: scripted for {number}.\nVerdict: {verdict}"


def expected_row(number: int) -> tuple[str, str | None, bool | None]:
    """(status, verdict, consistent) the script above makes of battle *number*; alpha is side a."""
    if number % 5 == 4:
        return "invalid", None, None
    if number % 5 == 3:
        return "done", "tie", False
    return "done", ("a", "b", "tie")[number % 3], True


def battle_of(body: dict[str, Any]) -> int:
    match = _ANSWERS.search(body["messages"][-1]["content"])
    assert match
    return int(match.group(2))


def start_cli(folder: Path, database_url: str, run: int) -> subprocess.Popen:
    log = (folder / f"judge-{run}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "arena", "judge", "--models", str(folder / "models.yaml"), "--no-progress"],
        cwd=PROJECT_ROOT, env={**os.environ, "ARENA_DATABASE_URL": database_url}, stdout=log, stderr=subprocess.STDOUT,
    )


def rows(database_url: str) -> dict[int, tuple]:
    """Battle number -> (status, verdict, consistent, attempts, judged_at) of every judgements row."""
    store = Store(database_url, migrate=False)
    try:
        with store.engine.connect() as conn:
            found = conn.execute(text("SELECT battle_id, status, verdict, consistent, attempts, judged_at, judge FROM judgements")).all()
    finally:
        store.close()
    assert all(row[6] == "stub-llm" for row in found)
    numbers = [int(row[0], 16) for row in found]
    assert len(numbers) == len(set(numbers)), "a (vote, judge) has two rows"
    return {number: tuple(row[1:6]) for number, row in zip(numbers, found)}


def finished(table: dict[int, tuple]) -> set[int]:
    return {number for number, row in table.items() if row[0] in ("done", "invalid")}


def kill_mid_queue(process: subprocess.Popen, database_url: str, folder: Path) -> None:
    """SIGKILL the worker once KILL_AFTER rows are saved (it has claimed many more: the kill lands mid-queue)."""
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, (folder / "judge-1.log").read_text()
        try:
            if len(finished(rows(database_url))) >= KILL_AFTER:
                break
        except Exception:  # noqa: BLE001 - the worker's migrations may not have run yet: the table is not there
            pass
        assert time.monotonic() < deadline, (folder / "judge-1.log").read_text()
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=20)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_killed_judge_cli_resumes_without_losing_or_repeating_a_verdict(backend: str, tmp_path: Path,
                                                                          request: pytest.FixtureRequest) -> None:
    database_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    store = Store(database_url)
    store.insert_battles([battle(i, "alpha", "beta", "model_a") for i in range(VOTES)])
    store.close()
    with Upstream(Behavior(respond=scripted_reply, header_delay_s=0.25, chunks=2)) as up:
        (tmp_path / "models.yaml").write_text(llm_judge_yaml(up.url, concurrency=4))
        kill_mid_queue(start_cli(tmp_path, database_url, 1), database_url, tmp_path)
        at_kill = rows(database_url)
        first_run = [battle_of(body) for body in up.requests]
        second = start_cli(tmp_path, database_url, 2)
        assert second.wait(timeout=180) == 0, (tmp_path / "judge-2.log").read_text()
        second_run = [battle_of(body) for body in up.requests[len(first_run):]]

    saved_before = finished(at_kill)
    print(f"{len(saved_before)} of {VOTES} saved at the kill; readings: {len(first_run)} before, {len(second_run)} after")
    assert KILL_AFTER <= len(saved_before) < VOTES and len(at_kill) == VOTES  # every vote queued; the kill landed mid-queue
    assert {row[0] for n, row in at_kill.items() if n not in saved_before} == {"pending"}
    final = rows(database_url)
    assert sorted(final) == list(range(VOTES))  # exactly one row per (vote, judge)
    assert {number: row[:3] for number, row in final.items()} == {n: expected_row(n) for n in range(VOTES)}
    for number in saved_before:  # a verdict saved before the kill is kept, not re-judged
        assert final[number] == at_kill[number] and final[number][3] == 1
        assert first_run.count(number) == 2 and number not in second_run
    unsaved = set(range(VOTES)) - saved_before
    assert sorted(second_run) == sorted(2 * list(unsaved))  # the restart read exactly the unsaved battles, once per order
    assert all(first_run.count(number) <= 2 for number in unsaved)  # readings in flight at the kill, at most both orders
    in_flight_at_kill = {n for n in unsaved if n in first_run}
    assert in_flight_at_kill and all(final[n][3] == 2 for n in in_flight_at_kill)  # claimed by both runs
