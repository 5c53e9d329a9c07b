"""Anonymity at the byte level: what a voter's browser receives during a battle, captured in Chromium.

Every response the page receives (the HTML, the JavaScript and its config,
Gradio's event streams and API answers) is recorded through Playwright's
network events. Before the vote none may contain a configured model name,
served model id, organisation or endpoint; after the vote the names must be
there (which also shows that the capture sees the event streams). The paths:
an ordinary battle with a regenerate, a model that names itself (the leak
path), and a failing endpoint (the error path).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Iterator

import pytest

from tests.helpers import STREAMING, running_app, shot
from tests.upstream import Behavior, Upstream

MODELS = [  # name, served id, organisation
    ("Quokka-Secret-7B", "quokka-served-v1", "Marsupial Research"),
    ("Pangolin-Hidden-13B", "pangolin-served-v2", "Scaly Labs"),
]


def models_yaml(urls: list[str]) -> str:
    entries = []
    for (name, served, org), url in zip(MODELS, urls):
        entries.append(f"""  - name: {name}
    backend: openai
    endpoints: ["{url}"]
    model: {served}
    organization: {org}
    description: The model called {name}.
    link: https://example.org/{served}
""")
    return "models:\n" + "".join(entries)


@dataclass
class Capture:
    """Every byte of every response the page received, in arrival order.

    Ordinary responses are read when they finish. Gradio's event streams are
    aborted by its client once their last message arrives, so their bodies are
    never "finished": they are recorded chunk by chunk as they arrive, through
    the DevTools protocol (``Network.streamResourceContent``).
    """

    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    _streams: dict[str, str] = field(default_factory=dict)

    def attach(self, context, page) -> None:  # Playwright BrowserContext and Page
        page.on("requestfinished", self._record)
        self._cdp = context.new_cdp_session(page)
        self._cdp.on("Network.responseReceived", self._on_response)
        self._cdp.on("Network.dataReceived", self._on_data)
        self._cdp.send("Network.enable")

    def _record(self, request) -> None:
        response = request.response()
        if response is None or "/queue/data" in request.url:
            return  # streams are recorded chunk by chunk
        try:
            body = response.body()
        except Exception:  # noqa: BLE001 - redirects have no body
            body = b""
        headers = "".join(f"{k}: {v}\n" for k, v in response.headers.items()).encode()
        self.bodies.append((request.url, request.url.encode() + b"\n" + headers + body))

    def _on_response(self, params: dict) -> None:
        url = params["response"]["url"]
        if "/queue/data" not in url:
            return
        self._streams[params["requestId"]] = url
        try:
            buffered = self._cdp.send("Network.streamResourceContent", {"requestId": params["requestId"]})
            self.bodies.append((url, base64.b64decode(buffered.get("bufferedData", ""))))
        except Exception as exc:  # a short stream can finish before we ask: then read it whole
            if "already finished" not in str(exc):
                raise
            whole = self._cdp.send("Network.getResponseBody", {"requestId": params["requestId"]})
            body = whole["body"]
            self.bodies.append((url, base64.b64decode(body) if whole.get("base64Encoded") else body.encode()))

    def _on_data(self, params: dict) -> None:
        url = self._streams.get(params["requestId"])
        if url is not None and params.get("data"):
            self.bodies.append((url, base64.b64decode(params["data"])))

    def mark(self) -> int:
        return len(self.bodies)

    def text(self, start: int = 0, end: int | None = None) -> str:
        return "\n".join(body.decode("utf-8", "replace") for _, body in self.bodies[start:end]).lower()

    def stream_bytes(self, start: int = 0, end: int | None = None) -> int:
        """Bytes of event streams captured (the capture must see them to prove anything)."""
        return sum(len(body) for url, body in self.bodies[start:end] if "/queue/data" in url)


@dataclass
class Secrets:
    terms: list[str]

    def found_in(self, text: str) -> list[str]:
        return [t for t in self.terms if t.lower() in text]


@dataclass
class Site:
    url: str
    upstreams: list[Upstream]
    secrets: Secrets


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("anonymity-app")
    behaviours = [Behavior(reply=STREAMING.reply, chunks=8, token_delay_s=0.02, models=[served]) for _, served, _ in MODELS]
    with Upstream(behaviours[0]) as one, Upstream(behaviours[1]) as two:
        (folder / "models.yaml").write_text(models_yaml([one.url, two.url]))
        terms = [t for entry in MODELS for t in entry] + ["Quokka", "Pangolin", f"127.0.0.1:{one.port}", f"127.0.0.1:{two.port}"]
        env = {"ARENA_DATABASE_URL": f"sqlite:///{folder / 'arena.sqlite3'}", "ARENA_PROMPTS_PER_MINUTE": "1000",
               "ARENA_VOTES_PER_MINUTE": "1000"}
        with running_app(folder, folder / "models.yaml", env) as (url, _):
            yield Site(url, [one, two], Secrets(terms))


def start_page(browser, site: Site) -> tuple:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    capture = Capture()
    capture.attach(context, page)
    page.goto(site.url, wait_until="load")
    page.locator("#battle-prompt textarea").wait_for(state="visible")
    return context, page, capture


def send(page, text: str) -> None:
    prompt = page.locator("#battle-prompt textarea")
    prompt.fill(text)
    prompt.press("Enter")


def vote_and_reveal(page) -> None:
    page.locator("#battle-vote-0").click()
    page.locator("#battle-status").get_by_text("Your vote was recorded").wait_for(timeout=15_000)
    page.wait_for_timeout(500)  # let the capture collect the finished event stream


def test_battle_and_regenerate_reveal_nothing_until_the_vote(browser, site: Site) -> None:
    context, page, capture = start_page(browser, site)
    send(page, "Tell me a fact about rivers.")
    page.locator("#battle-vote-0:not([disabled])").wait_for(timeout=30_000)
    page.locator("#battle-regenerate").click()
    page.locator("#battle-status").get_by_text("Generating").wait_for(timeout=15_000)
    page.locator("#battle-vote-0:not([disabled])").wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    before = capture.mark()
    assert "streaming answer" in capture.text(0, before)  # the battle's event streams were captured
    assert site.secrets.found_in(capture.text(0, before)) == []
    vote_and_reveal(page)
    revealed = capture.text(before)
    assert "quokka-secret-7b" in revealed and "pangolin-hidden-13b" in revealed  # the vote's answer names both
    context.close()


def test_a_model_naming_itself_is_hidden_until_the_vote(browser, site: Site) -> None:
    one = site.upstreams[0]
    one.behavior = Behavior(reply="I am Quokka-Secret-7B, made by Marsupial Research (quokka-served-v1).", chunks=6,
                            token_delay_s=0.02, models=[MODELS[0][1]])
    try:
        context, page, capture = start_page(browser, site)
        send(page, "Who are you?")
        page.locator("#battle-vote-0:not([disabled])").wait_for(timeout=30_000)
        page.locator("#battle-status").get_by_text("will not count").wait_for(timeout=15_000)  # flagged
        page.wait_for_timeout(500)
        before = capture.mark()
        shown = capture.text(0, before)
        assert "[name hidden]" in shown  # the self-identifying answer was shown, masked
        assert site.secrets.found_in(shown) == []
        shot(page, "anonymity-leak-masked")
        vote_and_reveal(page)
        assert "quokka-secret-7b" in capture.text(before)
        context.close()
    finally:
        one.behavior = Behavior(reply=STREAMING.reply, chunks=8, token_delay_s=0.02, models=[MODELS[0][1]])


def test_a_failing_endpoint_reveals_nothing(browser, site: Site) -> None:
    """Last in this module: a 5xx takes the endpoint out of rotation for a while."""
    two = site.upstreams[1]
    two.behavior = Behavior(status=500, models=[MODELS[1][1]])
    context, page, capture = start_page(browser, site)
    send(page, "Will this work?")
    page.locator("#battle-status").get_by_text("A model failed").wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    text = capture.text()
    assert "error:" in text  # the failing pane's notice was captured
    assert site.secrets.found_in(text) == []  # no endpoint, status detail or name in the error path
    page.locator("#battle-new-round").click()
    page.wait_for_timeout(500)
    assert site.secrets.found_in(capture.text()) == []  # a failed battle is never revealed
    context.close()

