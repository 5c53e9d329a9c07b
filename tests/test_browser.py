"""The arena in a real browser (Debian's chromium driven by Playwright): a full anonymous battle.

The app runs on 127.0.0.1 with two models served by a fast scripted upstream,
so the browser sees real streaming without waiting for a real model. Each
scenario saves a screenshot under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.helpers import PROJECT_ROOT
from tests.test_service import models_yaml
from tests.upstream import Behavior, Upstream
from tests.vllm_server import free_port

CHROMIUM = "/usr/bin/chromium"
SHOTS = PROJECT_ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - a Playwright Browser
    if not Path(CHROMIUM).exists():
        if os.environ.get("ARENA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"chromium required (ARENA_REQUIRE_BROWSER=1) but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser-app")
    slow = Behavior(reply="Streaming answer " * 8, chunks=16, token_delay_s=0.05)
    with Upstream(slow) as one, Upstream(slow) as two:
        (folder / "models.yaml").write_text(models_yaml(one.url, two.url))
        port = free_port()
        env = {**os.environ, "ARENA_DATABASE_URL": f"sqlite:///{folder / 'arena.sqlite3'}", "ARENA_MODELS_WATCH_INTERVAL": "0",
               "ARENA_PROMPTS_PER_MINUTE": "1000", "ARENA_VOTES_PER_MINUTE": "1000", "ARENA_MAX_PROMPT_CHARS": "300",
               "ARENA_ADMIN_PASSWORD": "browser-admin"}
        log = folder / "app.log"
        process = subprocess.Popen(
            [sys.executable, "app.py", "--models", str(folder / "models.yaml"), "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


def shot(page, name: str) -> None:  # noqa: ANN001 - a Playwright Page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_full_anonymous_battle_in_the_browser(browser, app: str) -> None:  # noqa: ANN001
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    started = time.monotonic()
    page.goto(app, wait_until="load")
    prompt = page.locator("#battle-prompt textarea")
    prompt.wait_for(state="visible")
    load_s = time.monotonic() - started
    print(f"page load to interactive: {load_s:.2f} s")

    votes = [page.locator(f"#battle-vote-{i}") for i in range(4)]
    assert all(v.is_disabled() for v in votes)  # nothing to vote on yet
    prompt.fill("Tell me something about the sea.")
    prompt.press("Enter")  # Enter sends
    page.locator("#battle-status").get_by_text("Generating").wait_for(timeout=15_000)
    assert all(v.is_disabled() for v in votes)  # not while the answers stream
    page.locator("#battle-vote-0:not([disabled])").wait_for(timeout=30_000)
    for pane in ("#battle-chat-a", "#battle-chat-b"):
        assert "Streaming answer" in page.locator(pane).inner_text()
    status = page.locator("#battle-status").inner_text()
    assert "Alpha-Model" not in status and "Beta-Model" not in status  # anonymous until the vote
    shot(page, "battle-answered")

    votes[0].click()
    page.locator("#battle-status").get_by_text("Your vote was recorded").wait_for(timeout=15_000)
    status = page.locator("#battle-status").inner_text()
    assert "Alpha-Model" in status and "Beta-Model" in status  # names revealed in place
    assert all(v.is_disabled() for v in votes)  # one vote per battle
    shot(page, "battle-voted")

    page.locator("#battle-new-round").click()
    page.wait_for_function("() => !document.querySelector('#battle-status').innerText.includes('Alpha-Model')", timeout=15_000)
    assert "Beta-Model" not in page.locator("#battle-status").inner_text()
    page.close()


def open_app(browser, app: str, tab: str | None = None):  # noqa: ANN001, ANN201
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(app, wait_until="load")
    page.locator("#battle-prompt textarea").wait_for(state="visible")
    if tab:
        page.get_by_role("tab", name=tab).click()
    return page


def test_multi_turn_regenerate_and_stop(browser, app: str) -> None:  # noqa: ANN001
    page = open_app(browser, app)
    prompt = page.locator("#battle-prompt textarea")
    for text in ("First question?", "And a follow-up?"):
        prompt.fill(text)
        prompt.press("Enter")
        page.locator("#battle-vote-0:not([disabled])").wait_for(timeout=30_000)
    assert page.locator("#battle-chat-a").inner_text().count("Streaming answer") >= 2  # two turns in each pane
    page.locator("#battle-regenerate").click()
    page.locator("#battle-status").get_by_text("Generating").wait_for(timeout=15_000)
    page.locator("#battle-stop:not([disabled])").click()  # stop mid-stream: partial answers are kept
    page.locator("#battle-stop[disabled]").wait_for(timeout=15_000)
    shot(page, "battle-stopped")
    assert "Follow-up" not in page.locator("#battle-status").inner_text()
    page.close()


def test_too_long_prompt_is_refused_with_a_clear_message(browser, app: str) -> None:  # noqa: ANN001
    page = open_app(browser, app)
    prompt = page.locator("#battle-prompt textarea")
    prompt.fill("x" * 400)
    prompt.press("Enter")
    page.get_by_text("the limit is 300").first.wait_for(timeout=15_000)
    shot(page, "battle-too-long")
    assert "Traceback" not in page.content()
    page.close()


def test_side_by_side_with_chosen_models(browser, app: str) -> None:  # noqa: ANN001
    page = open_app(browser, app, tab="👥 Side-by-side")
    for pick, name in (("#sbs-pick-a", "Alpha-Model"), ("#sbs-pick-b", "Beta-Model")):
        choice = page.locator(f"{pick} input")
        choice.fill(name)
        choice.press("Enter")
    prompt = page.locator("#sbs-prompt textarea")
    prompt.fill("Compare yourselves.")
    prompt.press("Enter")
    page.locator("#sbs-vote-1:not([disabled])").wait_for(timeout=30_000)
    page.locator("#sbs-vote-1").click()
    page.locator("#sbs-status").get_by_text("Your vote was recorded").wait_for(timeout=15_000)
    shot(page, "side-by-side")
    page.close()


def test_direct_chat(browser, app: str) -> None:  # noqa: ANN001
    page = open_app(browser, app, tab="💬 Direct chat")
    choice = page.locator("#direct-pick input")
    choice.fill("Alpha-Model")
    choice.press("Enter")
    prompt = page.locator("#direct-prompt textarea")
    prompt.fill("Just you and me.")
    prompt.press("Enter")
    page.locator("#direct-chat").get_by_text("Streaming answer").first.wait_for(timeout=30_000)
    shot(page, "direct-chat")
    page.close()


def test_leaderboard_renders_table_and_plots(browser, app: str) -> None:  # noqa: ANN001
    page = open_app(browser, app)
    prompt = page.locator("#battle-prompt textarea")  # one anonymous vote, so the overall leaderboard has rows
    prompt.fill("Something for the leaderboard.")
    prompt.press("Enter")
    page.locator("#battle-vote-2:not([disabled])").wait_for(timeout=30_000)
    page.locator("#battle-vote-2").click()
    page.locator("#battle-status").get_by_text("Your vote was recorded").wait_for(timeout=15_000)
    page.get_by_role("tab", name="🏆 Leaderboard").click()
    page.locator("#leaderboard-refresh").click()
    page.locator("#leaderboard-summary").get_by_text("votes").first.wait_for(timeout=30_000)
    assert "Alpha-Model" in page.locator("#leaderboard-table").text_content()
    page.locator("#leaderboard-ci .js-plotly-plot").wait_for(timeout=30_000)
    page.locator("#leaderboard-winrate .js-plotly-plot").wait_for(timeout=30_000)
    shot(page, "leaderboard")
    page.close()


def test_admin_tab_refuses_without_the_password(browser, app: str) -> None:  # noqa: ANN001
    page = open_app(browser, app, tab="🔧 Admin")
    page.locator("#admin-status").click()
    page.get_by_text("Wrong admin password").first.wait_for(timeout=15_000)
    assert "Starling" not in page.locator("#admin-models").inner_text()  # nothing shown
    page.locator("#admin-password input").fill("browser-admin")
    page.locator("#admin-status").click()
    page.locator("#admin-models").get_by_text("Alpha-Model").first.wait_for(timeout=15_000)
    shot(page, "admin")
    page.close()


def test_terms_notice_is_shown_once_per_browser(browser, app: str) -> None:  # noqa: ANN001
    """A fresh browser sees the data notice; once agreed it stays hidden across reloads; another browser sees it again."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(app, wait_until="load")
    notice = page.locator("#terms-text")
    notice.get_by_text("may be published as research data").wait_for(timeout=15_000)
    shot(page, "terms-notice")
    page.locator("#terms-agree").click()
    notice.wait_for(state="hidden", timeout=15_000)
    page.reload(wait_until="load")
    page.locator("#battle-prompt textarea").wait_for(state="visible")
    page.wait_for_timeout(1500)  # the saved answer is applied on load
    assert not notice.is_visible()
    context.close()
    fresh = browser.new_context()
    other = fresh.new_page()
    other.goto(app, wait_until="load")
    other.locator("#terms-text").get_by_text("research data").wait_for(timeout=15_000)
    fresh.close()
