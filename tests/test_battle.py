"""The battle state machine: turns, limits, failures, votes and reveal."""

from __future__ import annotations

import pytest

from arena.backends.base import GenerationStats
from arena.battle import Battle, Limits, RuleViolation

LIMITS = Limits(max_turns=2, max_prompt_chars=50)


def new(mode: str = "anony") -> Battle:
    models = ["m1"] if mode == "direct" else ["m1", "m2"]
    return Battle.start(mode, models, session_id="s1", judge_hash="j")  # type: ignore[arg-type]


def finish_turn(battle: Battle, text: str = "answer") -> None:
    for name in battle.sides:
        battle.append(name, text)  # type: ignore[arg-type]
        battle.finish_side(name, GenerationStats(finish_reason="stop"))  # type: ignore[arg-type]


def test_vote_before_any_turn_is_refused() -> None:
    """Nothing to vote on before a question."""
    with pytest.raises(RuleViolation, match="Ask something first"):
        new().record_vote("model_a", "s1")


def test_vote_while_generating_is_refused() -> None:
    """Votes wait for both answers."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    battle.append("a", "x")
    battle.finish_side("a", GenerationStats())
    assert battle.state == "generating" and not battle.can_vote
    with pytest.raises(RuleViolation, match="both answers have finished"):
        battle.record_vote("model_a", "s1")


def test_vote_after_both_finish_reveals_names() -> None:
    """A vote after both answers reveals the names; before it they are secret."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    finish_turn(battle)
    assert battle.reveal() is None
    receipt = battle.record_vote("tie", "s1")
    assert receipt.model_a == "m1" and receipt.model_b == "m2" and receipt.counted
    assert battle.reveal() == {"a": "m1", "b": "m2"}
    assert battle.state == "voted"


def test_double_vote_is_refused() -> None:
    """One vote per battle."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    finish_turn(battle)
    battle.record_vote("model_b", "s1")
    with pytest.raises(RuleViolation, match="already voted"):
        battle.record_vote("model_a", "s1")


def test_vote_from_another_session_is_refused() -> None:
    """A battle's vote belongs to the session that played it."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    finish_turn(battle)
    with pytest.raises(RuleViolation, match="another session"):
        battle.record_vote("model_a", "intruder")


def test_unknown_vote_value_is_refused() -> None:
    """Only the four outcomes exist."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    finish_turn(battle)
    with pytest.raises(RuleViolation, match="Unknown vote"):
        battle.record_vote("model_c", "s1")  # type: ignore[arg-type]


def test_failed_side_blocks_vote_and_further_turns() -> None:
    """A failure on one side makes the battle unvotable and closed."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    battle.fail_side("a", "http", "HTTP 500", GenerationStats())
    battle.append("b", "fine")
    assert battle.state == "generating" and not battle.can_vote  # B streams on (and can still be stopped)
    battle.finish_side("b", GenerationStats())
    assert battle.state == "failed" and battle.sides["a"].public_error
    with pytest.raises(RuleViolation, match="cannot be voted"):
        battle.record_vote("model_b", "s1")
    with pytest.raises(RuleViolation, match="New round"):
        battle.begin_turn("again", LIMITS)


def test_multi_turn_until_the_limit() -> None:
    """Turns continue with the same pair until max_turns, then a clear message."""
    battle = new()
    for _ in range(2):
        battle.begin_turn("hi", LIMITS)
        finish_turn(battle)
    assert battle.turns == 2 and len(battle.sides["a"].messages) == 4
    with pytest.raises(RuleViolation, match="limit of 2 turns"):
        battle.begin_turn("third", LIMITS)


def test_prompt_limits() -> None:
    """Empty and over-long prompts are refused with the numbers in the message."""
    battle = new()
    with pytest.raises(RuleViolation, match="Type a message"):
        battle.begin_turn("   ", LIMITS)
    with pytest.raises(RuleViolation, match="51 characters long; the limit is 50"):
        battle.begin_turn("x" * 51, LIMITS)
    assert battle.turns == 0 and battle.sides["a"].messages == []


def test_no_new_turn_while_generating() -> None:
    """A second prompt during streaming is refused."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    with pytest.raises(RuleViolation, match="wait"):
        battle.begin_turn("more", LIMITS)


def test_regenerate_replaces_last_answers() -> None:
    """Regenerate empties both last answers and streams again for the same turn."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    finish_turn(battle, "old")
    battle.begin_regenerate()
    assert battle.turns == 1 and all(s.messages[-1]["content"] == "" for s in battle.sides.values())
    finish_turn(battle, "new")
    assert battle.sides["a"].last_answer == "new" and battle.can_vote


def test_stopped_answers_can_be_voted() -> None:
    """Stop keeps partial answers, marks them stopped, and allows a vote."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    battle.append("a", "part")
    stats = GenerationStats()
    battle.finish_side("a", stats, stopped=True)
    battle.finish_side("b", GenerationStats(), stopped=True)
    assert stats.finish_reason == "stopped" and battle.can_vote


def test_leak_flag_means_not_counted() -> None:
    """A leaked battle can be voted, but the receipt says it does not count."""
    battle = new()
    battle.begin_turn("hi", LIMITS)
    finish_turn(battle)
    battle.flag_leak({"starling"})
    assert not battle.record_vote("model_a", "s1").counted


def test_named_mode_reveals_from_the_start() -> None:
    """Side-by-side shows the chosen names before the vote; its votes never count as anonymous."""
    battle = new("named")
    assert battle.reveal() == {"a": "m1", "b": "m2"}
    battle.begin_turn("hi", LIMITS)
    finish_turn(battle)
    assert not battle.record_vote("model_a", "s1").counted


def test_direct_chat_cannot_be_voted() -> None:
    """Direct chat has one side and no vote."""
    chat = new("direct")
    chat.begin_turn("hi", LIMITS)
    finish_turn(chat)
    assert chat.state == "chatting" and not chat.can_vote
    with pytest.raises(RuleViolation, match="not voted"):
        chat.record_vote("model_a", "s1")


def test_same_model_twice_is_refused() -> None:
    """A named battle needs two different models."""
    with pytest.raises(RuleViolation, match="two different"):
        Battle.start("named", ["m1", "m1"], session_id="s", judge_hash="j")
