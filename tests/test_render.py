"""What the browser is shown for a battle: anonymous until the vote, errors without internals."""

from __future__ import annotations

from arena.backends.base import GenerationStats
from arena.battle import Battle, Limits
from arena.ui.render import GENERATING_MARK, battle_status, pane_label, pane_messages, pane_title


def battle() -> Battle:
    b = Battle.start("anony", ["Secret-Model-One", "Secret-Model-Two"], session_id="s", judge_hash="j")
    b.begin_turn("hello", Limits())
    return b


def shown(b: Battle) -> str:
    return repr([pane_messages(b, "a"), pane_messages(b, "b"), pane_label(b, "a"), pane_label(b, "b"), battle_status(b)])


def test_anonymous_until_the_vote() -> None:
    """Labels, messages and status never contain a model name before the vote, and do after."""
    b = battle()
    b.append("a", "hi")
    assert GENERATING_MARK in pane_messages(b, "a")[-1]["content"]
    assert "Model A: writing… · Model B: writing…" in battle_status(b)  # each pane's own state
    b.finish_side("b", GenerationStats())
    assert "Model A: writing… · Model B: done" in battle_status(b)
    b.finish_side("a", GenerationStats())
    assert "Secret-Model" not in shown(b)
    assert pane_label(b, "a") == "Model A"
    b.record_vote("model_a", "s")
    assert pane_label(b, "a") == "Model A: Secret-Model-One" and "Secret-Model-Two" in battle_status(b)


def test_errors_are_shown_without_internals() -> None:
    """A failed pane shows a fixed message, never the endpoint or the exception text."""
    b = battle()
    b.fail_side("a", "connect", "http://10.1.2.3:8000/v1: ConnectError Secret-Model-One", GenerationStats())
    b.finish_side("b", GenerationStats())
    text = shown(b)
    assert pane_label(b, "a") == "Model A" and pane_label(b, "b") == "Model B"
    assert "could not reach the model server" in text
    assert "10.1.2.3" not in text and "ConnectError" not in text and "Secret-Model" not in text
    assert "cannot be voted on" in battle_status(b)


def test_leak_notice_before_the_vote() -> None:
    """A flagged battle tells the voter the vote will not count."""
    b = battle()
    for name in ("a", "b"):
        b.finish_side(name, GenerationStats())  # type: ignore[arg-type]
    b.flag_leak({"secret"})
    assert "will not count" in battle_status(b)


def test_display_filter_rewrites_answers_only() -> None:
    b = battle()
    b.append("a", "I am Secret-Model-One.")
    b.finish_side("a", GenerationStats())
    b.finish_side("b", GenerationStats())
    shown_a = pane_messages(b, "a", lambda text: text.replace("Secret-Model-One", "[name hidden]"))
    assert shown_a[0]["content"] == "hello"  # the user's own words are untouched
    assert shown_a[-1]["content"] == "I am [name hidden]."
    assert b.sides["a"].messages[-1]["content"] == "I am Secret-Model-One."  # the stored answer is unchanged


def test_pane_title_is_bold_and_escapes_markdown() -> None:
    assert pane_title("Model A: Starling-LM-7B-alpha") == "**Model A: Starling-LM-7B-alpha**"
    assert pane_title("a*b_[x](y)`<i>") == r"**a\*b\_\[x\](y)\`\<i\>**"  # no emphasis, link, code or tag
