"""Language detection, in this process and in the web app's helper process."""

from __future__ import annotations

import os

import pytest

from arena import language


@pytest.fixture
def fresh_cache():
    language.detect_language.cache_clear()
    yield
    language.stop_helper_process()
    language.detect_language.cache_clear()


TEXTS = {
    "Quelle est la capitale de la France et pourquoi est-elle si grande ?": "fr",
    "What is the capital of France and why is it so large?": "en",
    "Was ist die Hauptstadt von Frankreich und warum ist sie so groß?": "de",
    "hi": None,  # too short to tell
}


def test_detection_in_this_process(fresh_cache) -> None:
    assert {text: language.detect_language(text) for text in TEXTS} == TEXTS


def test_helper_process_gives_the_same_answers_and_runs_elsewhere(fresh_cache, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    language.use_helper_process()
    language.use_helper_process()  # once is enough
    helper = language._helper
    assert helper is not None
    assert helper.submit(os.getpid).result() != os.getpid()
    sent: list[str] = []
    submit = helper.submit
    monkeypatch.setattr(helper, "submit", lambda fn, text: sent.append(text) or submit(fn, text))
    assert {text: language.detect_language(text) for text in TEXTS} == TEXTS
    assert sent == [text for text, code in TEXTS.items() if code]  # every detection went to the helper...
    assert "language helper process failed" not in caplog.text  # ...and was answered there


def test_a_dead_helper_falls_back_to_this_process(fresh_cache) -> None:
    language.use_helper_process()
    assert language._helper is not None
    language._helper.shutdown(wait=True)  # submit() now raises
    assert language.detect_language("Quelle est la capitale de la France et pourquoi ?") == "fr"


def test_the_helper_ends_when_the_app_is_killed() -> None:
    """A SIGKILLed app (or a SIGTERMed one: no clean shutdown either) leaves no helper process behind."""
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers import PROJECT_ROOT

    script = ("import os, sys, time; from arena import language; language.use_helper_process(); "
              "print(language._helper.submit(os.getpid).result(), flush=True); time.sleep(60)")
    app = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        helper_pid = int(app.stdout.readline())
        os.kill(helper_pid, 0)  # it runs
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(helper_pid, 0)
        except ProcessLookupError:
            return  # gone (reaped by init once it exited)
        if _is_zombie(helper_pid):
            return
        time.sleep(0.1)
    os.kill(helper_pid, signal.SIGKILL)
    pytest.fail("the language helper outlived the killed app")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return False
