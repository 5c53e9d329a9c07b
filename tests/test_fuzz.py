"""Fuzzing the running app over HTTP: thousands of generated inputs, zero server errors, zero malformed rows.

Inputs are generated from a seeded random source (so a failure replays): hostile
strings (empty, huge, control characters, lone surrogates, NUL bytes, markup,
SQL, format strings), events in the wrong order (vote before asking, regenerate
after a vote), concurrent double clicks, wrong types and lengths, unknown
endpoints and sessions. Each HTTP request counts as one input. The app runs on
SQLite and on PostgreSQL (which refuses NUL bytes in text, a classic crash).
Afterwards: no response was a 5xx, the app's log holds no traceback, and every
stored row is well formed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from sqlalchemy import text

from arena.store import Store
from tests.gradio_http import AppConfig, Reply, Session
from tests.helpers import models_yaml, running_app
from tests.upstream import Behavior, Upstream

QUICK, FULL = 1_000, 10_000  # inputs per database: the default suite, and the slow suite (`-m slow`, run by .ci/run)
SESSIONS = 12  # concurrent browser tabs
CALL_TIMEOUT_S = float(os.environ.get("ARENA_FUZZ_CALL_TIMEOUT", "60"))  # an event not completed by then is a failure
SEED = int(os.environ.get("ARENA_FUZZ_SEED", "20261127"))

NASTY = [
    "", " ", "\n\n\n", "\t", "\x00", "a\x00b", "\ud800", "x\udfffy", "\u202eevil", "\u200b\u200b", "\ufeff", "🙂" * 50,
    "e\u0301" * 30, "<script>alert(1)</script>", "'; DROP TABLE votes; --", "%s%s%n{0}{}", "${jndi:ldap://x}",
    "\\", "\"", "`rm -rf /`", "null", "None", "NaN", "-1", "9" * 400, "x" * 5000, "ß" * 4001, "\r\n" * 100,
    "Starling-LM-7B-alpha", "Alpha-Model", "I am Beta-Model", "4111 1111 1111 1111", "```\ncode\n```", "|a|b|\n|-|-|",
]
VALID_WINNERS = {"model_a", "model_b", "tie", "tie (bothbad)"}
VOTES = ["battle_vote_model_a", "battle_vote_model_b", "battle_vote_tie", "battle_vote_tie_bothbad"]
UNUSED_ROUTES = [("POST", "/gradio_api/upload"), ("POST", "/gradio_api/component_server"), ("POST", "/gradio_api/stream/{x}"),
                 ("POST", "/gradio_api/stream/{x}/close"), ("POST", "/gradio_api/vibe-code"), ("POST", "/login"),
                 ("POST", "/gradio_api/run/no_{x}"), ("POST", "/gradio_api/call/no_{x}"), ("PUT", "/gradio_api/queue/join"),
                 ("DELETE", "/config"), ("PATCH", "/gradio_api/cancel"), ("POST", "/gradio_api/process_recording")]
SBS_VOTES = ["sbs_vote_model_a", "sbs_vote_model_b", "sbs_vote_tie", "sbs_vote_tie_bothbad"]


def nasty_text(rng: random.Random) -> str:
    """A hostile string: from the corpus, random code points, or a mix."""
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(NASTY)
    if roll < 0.75:
        return "".join(chr(rng.choice([rng.randrange(0, 0x80), rng.randrange(0x80, 0xD800), rng.randrange(0xD800, 0xE000),
                                       rng.randrange(0xE000, 0x110000)])) for _ in range(rng.randrange(1, 80)))
    return rng.choice(NASTY) + " " + rng.choice(["hello", "what is 2+2?", "write a poem"]) + rng.choice(NASTY)


def wrong_value(rng: random.Random) -> Any:
    return rng.choice([None, 0, -1, 3.5, True, [], {}, [1, [2, [3]]], {"a": {"b": None}}, "x" * 100, nasty_text(rng)])


class Fuzzer:
    """One tab's random walk through the app's endpoints; counts requests and collects any server error."""

    def __init__(self, client: httpx.AsyncClient, config: AppConfig, rng: random.Random, budget: list[int]) -> None:
        self.client, self.config, self.rng, self.budget = client, config, rng, budget
        self.server_errors: list[str] = []
        self.requests = 0

    def _check(self, label: str, reply: Reply) -> None:
        self.requests += 2 if reply.stream_status is not None else 1  # the join, and the event stream
        for status in (reply.status, reply.stream_status):
            if status is not None and status >= 500:
                self.server_errors.append(f"{label}: HTTP {status}: {reply.text()[-400:]} at {time.strftime('%H:%M:%S')}")

    async def call(self, session: Session, api_name: str, *values: Any, **raw: Any) -> Reply:
        reply = await session.call(api_name, *values, timeout=CALL_TIMEOUT_S, **raw)
        self._check(api_name, reply)
        return reply

    async def step(self, session: Session) -> None:
        rng = self.rng
        action = rng.random()
        if action < 0.28:
            await self.call(session, rng.choice(["battle_send", "battle_submit"]), nasty_text(rng))
        elif action < 0.40:
            await self.call(session, rng.choice(VOTES))
        elif action < 0.46:
            await asyncio.gather(*(self.call(session, rng.choice(VOTES)) for _ in range(2)))  # a double click
        elif action < 0.52:
            await self.call(session, rng.choice(["battle_regenerate", "battle_stop", "battle_new_round"]))
        elif action < 0.60:
            names = ["Alpha-Model", "Beta-Model", nasty_text(rng), ""]
            await self.call(session, "sbs_send", nasty_text(rng), rng.choice(names), rng.choice(names))
        elif action < 0.64:
            await self.call(session, rng.choice(SBS_VOTES + ["sbs_regenerate", "sbs_new_round"]))
        elif action < 0.70:
            await self.call(session, "direct_send", nasty_text(rng), rng.choice(["Alpha-Model", nasty_text(rng), ""]))
        elif action < 0.73:
            await self.call(session, "leaderboard", rng.choice(["overall", "coding", nasty_text(rng)]), rng.choice([True, False]))
        elif action < 0.76:
            await self.call(session, rng.choice(["admin_status", "admin_activity", "admin_reload"]), nasty_text(rng))
        elif action < 0.86:  # the right endpoint with wrong types or a wrong number of values
            name = rng.choice(sorted(self.config.endpoints))
            size = len(self.config.endpoints[name].inputs) + rng.choice([-1, 0, 0, 1, 3])
            await self.call(session, name, raw_data=[wrong_value(rng) for _ in range(max(0, size))])
        elif action < 0.90:  # an endpoint that does not exist
            await self.call(session, "battle_send", "hi", fn_index=rng.choice([-7, 9999, 2**31]))
        elif action < 0.95:  # a malformed join body
            body = rng.choice([{}, {"data": "x"}, {"fn_index": "a", "data": []}, [1, 2], {"session_hash": None, "fn_index": 0}])
            response = await self.client.post(f"{self.config.root}/gradio_api/queue/join", json=body)
            self.requests += 1
            if response.status_code >= 500:
                self.server_errors.append(f"malformed join {body}: HTTP {response.status_code}")
        elif action < 0.97:  # the event stream of a session that never joined
            response = await self.client.get(f"{self.config.root}/gradio_api/queue/data",
                                              params={"session_hash": rng.choice(["", "nope", "x" * 300])}, timeout=5)
            self.requests += 1
            if response.status_code >= 500:
                self.server_errors.append(f"unknown session stream: HTTP {response.status_code}")
        elif action < 0.985:  # a Gradio route this app never calls: refused, never served
            method, path = rng.choice(UNUSED_ROUTES)
            segment = urllib.parse.quote(rng.choice(["x", "0", nasty_text(rng)[:20]]), safe="", errors="surrogatepass")
            response = await self.send_json(method, path.format(x=segment),
                                            {"data": [wrong_value(rng)], "session_hash": session.session_hash})
            self.requests += 1
            if response.status_code != 404:
                self.server_errors.append(f"{method} {path}: HTTP {response.status_code}, not refused")
        else:  # a cancel of another session's event, or of an event that never was
            await self.foreign_cancel(session)

    async def send_json(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """*body* as ASCII-escaped JSON, as browsers send it (lone surrogates as escapes; httpx's json= cannot)."""
        return await self.client.request(method, self.config.root + path, content=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, timeout=10)

    async def foreign_cancel(self, session: Session) -> None:
        endpoint = self.config.endpoints["leaderboard"]
        joined = await self.client.post(f"{self.config.root}/gradio_api/queue/join", json={
            "data": session.data_for("leaderboard", ["overall", False]), "fn_index": endpoint.fn_index, "session_hash": session.session_hash,
            "event_data": None, "trigger_id": None})
        event_id = joined.json().get("event_id") if joined.status_code == 200 else None
        intruder = self.rng.choice(["someone-else", "", session.session_hash + "x"])
        body = {"session_hash": intruder, "fn_index": endpoint.fn_index, "event_id": self.rng.choice([event_id, "0" * 32, nasty_text(self.rng)])}
        response = await self.send_json("POST", "/gradio_api/cancel", body)
        self.requests += 2
        if response.status_code != 404:
            self.server_errors.append(f"foreign cancel {body}: HTTP {response.status_code}, not refused")
        if event_id is not None:  # this session's own join: read its result, as a page would
            await session.call("leaderboard", "overall", False, timeout=CALL_TIMEOUT_S)

    async def run(self) -> None:
        session = Session(self.client, self.config)
        while self.budget[0] > 0:
            before = self.requests
            try:
                await self.step(session)
            except (httpx.TimeoutException, httpx.RemoteProtocolError) as exc:
                self.server_errors.append(f"no answer: {exc!r}")
                self.requests += 1
            self.budget[0] -= self.requests - before
            if self.rng.random() < 0.08:
                await session.close()
                session = Session(self.client, self.config)  # a new tab
        await session.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def fuzz_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict]:
    database_url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    echo = Behavior(reply=None, chunks=3)  # echoes the prompt: hostile text comes back as model output too
    with Upstream(echo) as one, Upstream(echo) as two:
        (tmp_path / "models.yaml").write_text(models_yaml(one.url, two.url))
        env = {"ARENA_DATABASE_URL": database_url, "ARENA_PROMPTS_PER_MINUTE": "1000000", "ARENA_VOTES_PER_MINUTE": "1000000",
               "ARENA_BATTLES_PER_HOUR": "1000000", "ARENA_VOTES_PER_DAY": "1000000", "ARENA_ADMIN_PASSWORD": "fuzz-admin-secret",
               "ARENA_MAX_PROMPT_CHARS": "4000"}
        with running_app(tmp_path, tmp_path / "models.yaml", env) as (url, log):
            yield {"url": url.rstrip("/"), "database_url": database_url, "log": log}


@pytest.mark.parametrize("inputs", [pytest.param(QUICK, id="quick"), pytest.param(FULL, marks=pytest.mark.slow, id="full")])
def test_fuzzed_inputs_cause_no_server_error_and_no_malformed_row(inputs: int, fuzz_app: dict, capsys: pytest.CaptureFixture) -> None:
    inputs = int(os.environ.get("ARENA_FUZZ_INPUTS", inputs))
    budget = [inputs]

    async def main() -> list[Fuzzer]:
        # No cap on connections: a reader cancelled while waiting for a pooled connection leaks that slot in
        # httpcore 1.0.9 (encode/httpcore#1093), and after a few thousand inputs the fuzzer's own pool was full.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=SESSIONS * 3)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            config = await AppConfig.fetch(client, fuzz_app["url"])
            fuzzers = [Fuzzer(client, config, random.Random(SEED + i), budget) for i in range(SESSIONS)]
            progress = asyncio.create_task(report_progress(fuzzers, inputs))
            try:
                await asyncio.gather(*(f.run() for f in fuzzers))
            finally:
                progress.cancel()
            return fuzzers

    async def report_progress(fuzzers: list[Fuzzer], total: int) -> None:
        """A line every 15 s on the terminal, so that a long run shows it is alive (or where it stalled)."""
        started = time.monotonic()
        while True:
            await asyncio.sleep(15)
            sent, errors = sum(f.requests for f in fuzzers), sum(len(f.server_errors) for f in fuzzers)
            with capsys.disabled():
                print(f"\nfuzz: {sent:,}/{total:,} inputs after {time.monotonic() - started:.0f} s, {errors} errors"
                      + (f" (last: {next(e for f in reversed(fuzzers) for e in reversed(f.server_errors))[:200]})" if errors else ""),
                      flush=True)

    started = time.monotonic()
    fuzzers = asyncio.run(main())
    sent = sum(f.requests for f in fuzzers)
    with capsys.disabled():
        print(f"\nfuzz: {sent} inputs in {time.monotonic() - started:.0f} s on {fuzz_app['database_url'].split(':')[0]}")
    assert sent >= inputs
    errors = [e for f in fuzzers for e in f.server_errors]
    assert errors == [], "\n".join(errors[:20])
    logged = fuzz_app["log"].read_text()
    assert "Traceback" not in logged and "unexpected error" not in logged, logged[logged.find("Traceback") - 2000:][:6000]

    store = Store(fuzz_app["database_url"], migrate=False)
    with store.engine.connect() as conn:
        battles = conn.execute(text("SELECT id, mode, status, turns FROM battles")).all()
        messages = conn.execute(text("SELECT role, content FROM messages")).all()
        votes = conn.execute(text("SELECT battle_id, winner, transcript FROM votes")).all()
        orphans = conn.execute(text("SELECT COUNT(*) FROM votes v LEFT JOIN battles b ON b.id = v.battle_id WHERE b.id IS NULL")).scalar()
        sides = conn.execute(text("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM conversations WHERE battle_id IS NOT NULL "
                                  "GROUP BY battle_id) AS per_battle")).scalar()
    store.close()
    assert battles and messages and votes  # the fuzzer did reach the interesting paths
    assert all(mode in ("anony", "named") and status in ("chatting", "voted", "failed") and turns >= 0 for _, mode, status, turns in battles)
    assert all(role in ("user", "assistant") and isinstance(content, str) and "\x00" not in content for role, content in messages)
    assert all(winner in VALID_WINNERS for _, winner, _ in votes) and orphans == 0 and (sides or 0) <= 2
    for _, _, transcript in votes:
        frozen = transcript if isinstance(transcript, dict) else json.loads(transcript)
        assert isinstance(frozen, dict) and frozen  # a transcript that parses
