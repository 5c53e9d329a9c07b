"""Language detection, in this process and in the web app's helper process."""

from __future__ import annotations

import os

import pytest

from arena import language


@pytest.fixture
def fresh_cache():  # noqa: ANN201
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


def test_detection_in_this_process(fresh_cache) -> None:  # noqa: ANN001
    assert {text: language.detect_language(text) for text in TEXTS} == TEXTS


def test_helper_process_gives_the_same_answers_and_runs_elsewhere(fresh_cache, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
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


def test_a_dead_helper_falls_back_to_this_process(fresh_cache) -> None:  # noqa: ANN001
    language.use_helper_process()
    assert language._helper is not None
    language._helper.shutdown(wait=True)  # submit() now raises
    assert language.detect_language("Quelle est la capitale de la France et pourquoi ?") == "fr"
