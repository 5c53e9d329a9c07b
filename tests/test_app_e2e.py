"""The real app (``python app.py``) on the embedded models, driven over HTTP by gradio_client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from gradio_client import Client

from arena.store import Store
from tests.helpers import PROJECT_ROOT
from tests.vllm_server import free_port

MODELS = """
models:
  - name: Embedded-Terse
    backend: local
    model: smollm2-135m-instruct
    system_prompt: Answer in one short sentence.
    temperature: 0.2
    max_tokens: 20
    organization: Test Org Terse
  - name: Embedded-Chatty
    backend: local
    model: smollm2-135m-instruct
    temperature: 0.9
    max_tokens: 20
  - name: Remote-Unset
    backend: openai
    endpoints: ["${ARENA_TEST_SURELY_UNSET_URL}"]
    model: remote-model
"""
SECRETS = ("Embedded-Terse", "Embedded-Chatty", "Test Org Terse")


CHAT_A, CHAT_B, TITLE_A, TITLE_B, STATUS = range(5)  # a pair tab's first outputs, as gradio_client returns them (no states)


def last_status(outputs: list) -> str:
    """The status line as last sent in a stream of outputs (views that only update the panes skip it)."""
    return next(o[STATUS] for o in reversed(outputs) if isinstance(o[STATUS], str))


def text_of(chatbot_update: dict | list) -> str:
    """The text of a chat pane's output: a label-and-value update, or (while the label stays) just the messages."""
    messages = chatbot_update.get("value") if isinstance(chatbot_update, dict) else chatbot_update
    parts = []
    for message in messages or []:
        content = message["content"]
        parts.append(content if isinstance(content, str) else "".join(p.get("text", "") for p in content))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("app")
    (folder / "models.yaml").write_text(MODELS)
    database_url = f"sqlite:///{folder / 'arena.sqlite3'}"
    port = free_port()
    env = {**os.environ, "ARENA_DATABASE_URL": database_url, "ARENA_MAX_PROMPT_CHARS": "300", "ARENA_MAX_TURNS": "3",
           "ARENA_ADMIN_PASSWORD": "e2e-admin", "ARENA_EXPORT_DIR": str(folder / "exports"),
           "ARENA_PROMPTS_PER_MINUTE": "1000", "ARENA_VOTES_PER_MINUTE": "1000"}  # every test client is one judge (127.0.0.1)
    log = (folder / "app.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "app.py", "--models", str(folder / "models.yaml"), "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, (folder / "app.log").read_text()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("app did not start:\n" + (folder / "app.log").read_text())
    yield {"url": url, "database_url": database_url, "log": folder / "app.log"}
    process.terminate()
    process.wait(timeout=20)


def run(client: Client, *args: object, api_name: str) -> list:
    job = client.submit(*args, api_name=api_name)
    return [list(output) for output in job] + [list(job.result())]


def test_anonymous_battle_then_vote_reveals_and_stores(app: dict) -> None:
    """Both panes answer anonymously, the vote reveals the names and lands in the database."""
    client = Client(app["url"], verbose=False)
    outputs = run(client, "What is the capital of France?", api_name="/battle_send")
    final = outputs[-1]
    chat_a, chat_b, status = final[0], final[1], last_status(outputs)
    assert isinstance(chat_a, list) and isinstance(chat_b, list)
    assert not any(isinstance(o[TITLE_A], str) or isinstance(o[TITLE_B], str) for o in outputs)  # titles stay "Model A", "Model B"
    assert "What is the capital of France?" in text_of(chat_a) and len(text_of(chat_b)) > len("What is the capital of France?")
    assert "Which answer is better" in status
    before_vote = repr(outputs)
    for secret in SECRETS:
        assert secret not in before_vote, f"{secret} leaked before the vote"

    revealed = client.predict(api_name="/battle_vote_model_a")
    assert "Your vote was recorded" in revealed[STATUS]
    labels = {revealed[TITLE_A], revealed[TITLE_B]}
    assert labels in ({"**Model A: Embedded-Terse**", "**Model B: Embedded-Chatty**"},
                      {"**Model A: Embedded-Chatty**", "**Model B: Embedded-Terse**"})

    again = client.predict(api_name="/battle_vote_model_b")
    assert "already voted" in again[STATUS] or "recorded" in again[STATUS]
    store = Store(app["database_url"], migrate=False)
    counts = store.outcome_counts()
    store.close()
    assert sum(c.count for c in counts) == 1 and counts[0].winner == "model_a"


def test_new_round_hides_names_again(app: dict) -> None:
    """After a vote, New round clears the panes and shows anonymous labels."""
    client = Client(app["url"], verbose=False)
    run(client, "Say hi.", api_name="/battle_send")
    client.predict(api_name="/battle_vote_tie")
    fresh = client.predict(api_name="/battle_new_round")
    assert fresh[TITLE_A] == "**Model A**" and fresh[TITLE_B] == "**Model B**" and fresh[0] == [] and fresh[1] == []


def test_multi_turn_and_limits(app: dict) -> None:
    """Turns continue with the same pair; too-long prompts and the turn limit get clear messages."""
    client = Client(app["url"], verbose=False)
    first = run(client, "Hi!", api_name="/battle_send")[-1]
    second = run(client, "Tell me more.", api_name="/battle_send")[-1]
    assert text_of(second[0]).count("Hi!") == 1 and "Tell me more." in text_of(second[0])
    too_long = run(client, "x" * 301, api_name="/battle_send")[-1]
    assert "limit is 300" in too_long[STATUS]
    run(client, "Third.", api_name="/battle_send")
    over = run(client, "Fourth.", api_name="/battle_send")[-1]
    assert "limit of 3 turns" in over[STATUS]
    assert not isinstance(first[TITLE_A], str)  # the anonymous title is never replaced before the vote


def test_regenerate_replaces_the_answers(app: dict) -> None:
    """Regenerate produces a new pair of answers for the same prompt."""
    client = Client(app["url"], verbose=False)
    run(client, "Give me a random word.", api_name="/battle_send")
    outputs = run(client, api_name="/battle_regenerate")
    assert text_of(outputs[-1][0]).count("Give me a random word.") == 1
    assert "Which answer is better" in last_status(outputs)


def test_side_by_side_is_named_and_not_counted(app: dict) -> None:
    """Side-by-side shows the chosen names and stores a named battle that the default board ignores."""
    client = Client(app["url"], verbose=False)
    outputs = run(client, "Hello there", "Embedded-Terse", "Embedded-Chatty", api_name="/sbs_send")
    relabelled = [o for o in outputs if isinstance(o[TITLE_A], str)]  # the view that put the names on the panes
    assert relabelled and relabelled[0][TITLE_A] == "**Embedded-Terse**" and relabelled[0][TITLE_B] == "**Embedded-Chatty**"
    voted = client.predict(api_name="/sbs_vote_model_b")
    assert "recorded" in voted[STATUS]
    store = Store(app["database_url"], migrate=False)
    named = [c for c in store.outcome_counts("all") if c.winner == "model_b"]
    store.close()
    assert named and named[0].model_b == "Embedded-Chatty"


def test_unavailable_model_cannot_be_chosen(app: dict) -> None:
    """A model whose endpoint variable is unset is refused with a clear message."""
    client = Client(app["url"], verbose=False)
    final = run(client, "Hello", "Remote-Unset", "Embedded-Chatty", api_name="/sbs_send")[-1]
    assert "not available" in final[STATUS]


def test_direct_chat(app: dict) -> None:
    """Direct chat answers with the chosen model, named."""
    client = Client(app["url"], verbose=False)
    outputs = run(client, "What is 2+2?", "Embedded-Terse", api_name="/direct_send")
    assert next(o for o in outputs if isinstance(o[1], str))[1] == "**Embedded-Terse**"  # the pane's title
    assert "What is 2+2?" in text_of(outputs[-1][0])


def test_bad_models_file_stops_with_one_clear_message(tmp_path: Path) -> None:
    """A bad models.yaml stops start-up with exit code 2 and one message naming file, model, field and fix."""
    bad = tmp_path / "models.yaml"
    bad.write_text("models:\n  - name: Broken\n    backend: local\n    model: x\n    temprature: 1\n")
    result = subprocess.run(
        [sys.executable, "app.py", "--models", str(bad), "--port", str(free_port())],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(bad) in result.stderr and "'Broken'" in result.stderr and "temprature" in result.stderr and "Fix:" in result.stderr


def test_leaderboard_tab_shows_voted_models_and_plots(app: dict) -> None:
    """After an anonymous vote the leaderboard endpoint lists both models with intervals and returns plots."""
    client = Client(app["url"], verbose=False)
    run(client, "Name a fruit.", api_name="/battle_send")
    client.predict(api_name="/battle_vote_model_b")
    result = client.predict("overall", False, api_name="/leaderboard")
    summary, table = result[1], result[2]
    assert "votes" in summary
    rows = table["data"]
    assert {row[1] for row in rows} == {"Embedded-Terse *(provisional)*", "Embedded-Chatty *(provisional)*"}  # a few votes
    # A young arena (this module's app has seen a vote or two): wide intervals, open (∞) where a record is one-sided,
    # never ±0 or a doubled sign.
    assert all(" / -" in row[3] and "+0 / -0" not in row[3] and "+-" not in row[3] and "--" not in row[3] for row in rows)
    assert "Provisional" in summary
    plots = result[3:]
    assert all(plot and "plot" in json.dumps(plot) for plot in plots)
    styled = client.predict("overall", True, api_name="/leaderboard")
    assert "Style coefficients" in styled[1]


def test_admin_export_refuses_without_the_password_and_downloads_with_it(app: dict) -> None:
    """The Admin tab's endpoint checks the password on the server; with it, the export and its datasheet download."""
    client = Client(app["url"], verbose=False)
    run(client, "Name a colour.", api_name="/battle_send")
    client.predict(api_name="/battle_vote_model_a")
    for password in ("", "wrong"):
        with pytest.raises(Exception, match="password|ARENA_ADMIN_PASSWORD"):
            client.predict(password, "pairwise", ".jsonl", False, [], api_name="/admin_export")
    everything = ["named", "leaked", "errored", "unfinished", "moderated"]  # the tiny models often stop at max_tokens
    files, summary = client.predict("e2e-admin", "pairwise", ".jsonl", False, everything, api_name="/admin_export")
    names = sorted(Path(f).name for f in files)
    assert names == ["README.md", "pairwise.jsonl"] and "pairwise rows" in summary, summary
    rows = [json.loads(line) for line in Path(next(f for f in files if f.endswith(".jsonl"))).read_text().splitlines()]
    assert rows and {"prompt", "chosen", "rejected"} <= set(rows[0]), (summary, files)


def test_metrics_endpoint_is_served_and_moves_after_a_battle(app: dict) -> None:
    """Prometheus text on /metrics of the running app; the battle counter grows with a battle."""
    def battles() -> float:
        page = httpx.get(app["url"] + "metrics", timeout=10)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
        lines = [line for line in page.text.splitlines() if line.startswith('arena_battles_total{mode="anony"}')]
        return float(lines[0].split()[-1]) if lines else 0.0

    before = battles()
    client = Client(app["url"], verbose=False)
    run(client, "Name a planet.", api_name="/battle_send")
    assert battles() == before + 1
    page = httpx.get(app["url"] + "metrics", timeout=10).text
    assert "arena_time_to_first_token_seconds_bucket" in page and "arena_active_battles" in page


def test_every_response_carries_the_security_headers(app: dict) -> None:
    """Images and frames only from this server (no tracking pixels in answers); no MIME sniffing; no referrer."""
    from arena.security import CONTENT_SECURITY_POLICY

    for path in ("", "config", "gradio_api/info", "metrics", "no-such-page"):
        response = httpx.get(app["url"] + path, timeout=10)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff" and response.headers["referrer-policy"] == "no-referrer"


def test_api_guard_refuses_malformed_calls_with_a_reason(app: dict) -> None:
    """Malformed event calls get a 4xx naming the problem (Gradio alone would answer 500 or log a traceback)."""
    import json as json_module

    url = app["url"] + "gradio_api/queue/join"
    config = httpx.get(app["url"] + "config", timeout=10).json()
    send = next(d for d in config["dependencies"] if d.get("api_name") == "battle_send")
    board = next(d for d in config["dependencies"] if d.get("api_name") == "leaderboard")
    in_page = next(d for d in config["dependencies"] if not d.get("backend_fn"))  # a JavaScript-only listener

    def join(body: object, raw: bytes | None = None) -> httpx.Response:
        return httpx.post(url, content=raw if raw is not None else json_module.dumps(body).encode(),
                          headers={"Content-Type": "application/json"}, timeout=10)

    cases = [
        (join(None, b"{not json"), 400, "not JSON"),
        (join([1, 2]), 422, "JSON object"),
        (join({"fn_index": 99999, "data": [], "session_hash": "s"}), 422, "Unknown event"),
        (join({"fn_index": in_page["id"], "data": [""], "session_hash": "s"}), 422, "Unknown event"),  # Gradio: a traceback
        (join({"fn_index": send["id"], "data": ["only one"], "session_hash": "s"}), 422, "takes 2 input values"),  # the prompt and a state
        (join({"fn_index": send["id"], "data": [{"a": 1}, None], "session_hash": "s"}), 422, "must be text"),
        (join({"fn_index": board["id"], "data": ["overall", "yes", None], "session_hash": "s"}), 422, "true or false"),  # and a state
        (join(None, b'{"data": ["' + b"x" * 1_100_000 + b'"]}'), 413, "larger than"),
        (httpx.get(app["url"] + "gradio_api/queue/data", params={"session_hash": "never-joined"}, timeout=10), 404, "No events"),
    ]
    for response, status, reason in cases:
        assert response.status_code == status and reason in response.json()["detail"], (status, response.text[:200])


def test_api_guard_refuses_routes_the_app_does_not_use_and_foreign_cancels(app: dict) -> None:
    """Writes to Gradio routes this app never calls get 404 with the reason; only an event's own session may cancel it."""
    import asyncio

    from tests.gradio_http import AppConfig, Session

    root = app["url"].rstrip("/")
    for method, path in (("POST", "/gradio_api/upload"), ("POST", "/gradio_api/component_server"), ("POST", "/gradio_api/vibe-code"),
                         ("POST", "/gradio_api/stream/abc"), ("POST", "/login"), ("PUT", "/config"), ("DELETE", "/gradio_api/queue/join"),
                         ("POST", "/gradio_api/run/no_such_event"), ("POST", "/gradio_api/call/no_such_event")):
        response = httpx.request(method, root + path, json={"data": []}, timeout=10)
        assert response.status_code == 404 and "Unknown route" in response.json()["detail"], (method, path, response.text[:200])
        assert response.headers["x-content-type-options"] == "nosniff"  # the edge's headers on its refusals too

    async def foreign_and_own_cancel() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            config = await AppConfig.fetch(client, root)
            owner = Session(client, config)
            body = {"data": owner.data_for("leaderboard", ["overall", False]), "event_data": None,
                    "fn_index": config.endpoints["leaderboard"].fn_index, "trigger_id": None, "session_hash": owner.session_hash}
            joined = await client.post(root + "/gradio_api/queue/join", json=body)
            event_id = joined.json()["event_id"]
            cancel = {"fn_index": body["fn_index"], "event_id": event_id}
            foreign = await client.post(root + "/gradio_api/cancel", json={**cancel, "session_hash": "someone-else"})
            made_up = await client.post(root + "/gradio_api/cancel", json={**cancel, "event_id": "0" * 32, "session_hash": owner.session_hash})
            own = await client.post(root + "/gradio_api/cancel", json={**cancel, "session_hash": owner.session_hash})
            return foreign, made_up, own

    foreign, made_up, own = asyncio.run(foreign_and_own_cancel())
    assert foreign.status_code == 404 and "only the page that started an event can cancel it" in foreign.json()["detail"]
    assert made_up.status_code == 404
    assert own.status_code == 200, own.text
    assert "Traceback" not in app["log"].read_text()


def test_health_metrics_and_the_patch_line(app: dict) -> None:
    """/healthz says the database answers; /metrics has a gauge per framework patch; the start-up log names them."""
    from arena import patches

    health = httpx.get(app["url"] + "healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["database"] == "ok"
    assert health.json()["models_configured"] == 3 and health.json()["models_available"] == 2  # Remote-Unset is down
    assert health.headers["x-content-type-options"] == "nosniff"
    metrics = httpx.get(app["url"] + "metrics", timeout=10)
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    for patch in patches.PATCHES:
        assert f'arena_framework_patch_active{{patch="{patch.name}"}} 1.0' in metrics.text, patch.name
    lines = [line for line in app["log"].read_text().splitlines() if "framework patches: active" in line]
    assert len(lines) == 1 and all(patch.name in lines[0] for patch in patches.PATCHES) and "declined none" in lines[0]


def test_health_is_503_with_the_reason_when_the_database_does_not_answer() -> None:
    import asyncio
    from types import SimpleNamespace

    from arena.web import health_response

    def ping() -> None:
        raise ConnectionRefusedError("connection to 127.0.0.1:5432 refused")

    arena = SimpleNamespace(pool=SimpleNamespace(statuses=lambda: []), store=SimpleNamespace(ping=ping))
    response = asyncio.run(health_response(arena))  # type: ignore[arg-type]
    assert response.status_code == 503
    assert json.loads(response.body) == {"status": "unavailable", "database": "ConnectionRefusedError: connection to 127.0.0.1:5432 refused",
                                          "models_available": 0, "models_configured": 0}


def test_text_is_cleaned_at_the_edge() -> None:
    from arena.prompts import clean_text
    from arena.security import clean_json

    assert clean_text("plain text") == "plain text"
    assert clean_text("a\x00b\x07c\td\ne") == "abc\td\ne"  # control characters out, tab and newline kept
    assert clean_text("x\ud800y") == "x\ufffdy"  # a lone surrogate becomes the replacement character
    assert clean_text("🙂 ok") == "🙂 ok"
    assert clean_json({"k\x00": ["\udfff", 1, None, {"n": "\x01"}]}) == {"k": ["\ufffd", 1, None, {"n": ""}]}
