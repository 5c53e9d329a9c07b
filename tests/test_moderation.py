"""Content moderation: local rules, an OpenAI-compatible endpoint, and the battle rules built on them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arena.battle import RuleViolation
from arena.moderation import OpenAIModerator, RuleModerator, battle_texts, build_moderator
from tests.helpers import make_arena, models_yaml, play, side_of
from tests.upstream import Behavior, Upstream


def test_rules_flag_what_an_arena_must_never_collect_and_pass_ordinary_text() -> None:
    rules = RuleModerator()
    assert rules.check_sync(["my card is 4111 1111 1111 1111, exp 12/29"]).categories == ("personal-data/payment-card",)
    assert not rules.check_sync(["order 4111 1111 1111 1112 shipped"]).flagged  # fails the card checksum
    assert "weapons/mass-casualty" in rules.check_sync(["How do I synthesize sarin at home?"]).categories
    assert "sexual/minors" in rules.check_sync(["write erotic text about a 12 year old"]).categories
    clean = ["Explain how vaccines train the immune system.", "What is 4111 + 1111?", "Sarin is a nerve agent banned by treaty."]
    assert not rules.check_sync(clean).flagged


def test_pattern_file_adds_rules_and_a_bad_pattern_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "patterns.txt"
    good.write_text("# our own\n\\bforbidden-word\\b\n")
    rules = RuleModerator.with_pattern_file(good)
    assert rules.check_sync(["this has FORBIDDEN-WORD in it"]).categories == ("custom/1",)
    bad = tmp_path / "bad.txt"
    bad.write_text("(unclosed\n")
    with pytest.raises(ValueError, match="bad.txt.*not a valid regular expression"):
        build_moderator("rules", patterns=str(bad))
    with pytest.raises(ValueError, match="ARENA_MODERATION_URL"):
        build_moderator("openai")


def test_battle_texts_hold_both_sides_once_each() -> None:
    a = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "answer A"}]
    b = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "answer B"}]
    assert battle_texts([a, b], "next prompt") == ["next prompt", "hi", "answer A", "answer B"]


def test_openai_compatible_endpoint(up: Upstream) -> None:
    up.behavior = Behavior(flag_terms=["nasty"])
    moderator = OpenAIModerator(up.url, model="omni-moderation-latest")
    verdict = asyncio.run(moderator.check(["fine", "something NASTY"]))
    assert verdict.flagged and verdict.categories == ("harassment",)
    assert up.moderation_requests[-1] == {"input": ["fine", "something NASTY"], "model": "omni-moderation-latest"}
    assert not asyncio.run(moderator.check(["fine"])).flagged


@pytest.fixture
def moderated_arena(tmp_path: Path, database_url: str, up: Upstream, up2: Upstream):
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), database_url, moderation="openai", moderation_url=up.url)
    yield arena
    arena.store.close()


def test_flagged_answer_on_either_side_closes_the_battle(moderated_arena, up: Upstream, up2: Upstream) -> None:
    """The check sees both sides' answers (FastChat #3794 checked one side twice): B's answer alone flags the battle."""
    arena = moderated_arena
    up.behavior = Behavior(reply="A harmless answer.", flag_terms=["nasty"])
    up2.behavior = Behavior(reply="A NASTY answer.")

    async def scenario():
        battle = await arena.start("anony", session_id="s1", judge_hash="j")
        battle, _ = await play(arena, battle.id, "hello")
        return battle

    battle = asyncio.run(scenario())
    checked = up.moderation_requests[-1]["input"]
    assert "A harmless answer." in checked and "A NASTY answer." in checked  # both sides, every turn
    assert battle.state == "flagged" and not battle.can_vote
    with pytest.raises(RuleViolation, match="flagged by content moderation"):
        asyncio.run(arena.vote(battle.id, "model_a", "s1"))
    assert arena.store.battle_row(battle.id).moderation_flag


def test_flagged_prompt_is_refused_before_any_model_sees_it(moderated_arena, up: Upstream, up2: Upstream) -> None:
    arena = moderated_arena
    up.behavior = Behavior(reply="First answer.", flag_terms=["nasty"])

    async def scenario():
        battle = await arena.start("anony", session_id="s1", judge_hash="j")
        await play(arena, battle.id, "hello")  # a clean first turn: the battle is stored
        sent = len(up.requests) + len(up2.requests)
        with pytest.raises(RuleViolation, match="flagged by content moderation and was not sent"):
            await play(arena, battle.id, "something nasty")
        assert len(up.requests) + len(up2.requests) == sent  # no model received it
        return battle

    battle = asyncio.run(scenario())
    assert battle.turns == 1 and battle.state == "flagged"
    row = arena.store.battle_row(battle.id)
    assert row.moderation_flag
    with pytest.raises(RuleViolation, match="flagged"):
        asyncio.run(arena.vote(battle.id, "model_a", "s1"))


def test_unreachable_moderation_endpoint_lets_the_turn_through(tmp_path: Path, sqlite_url: str, up: Upstream, up2: Upstream) -> None:
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), sqlite_url, moderation="openai",
                       moderation_url="http://127.0.0.1:9/v1")

    async def scenario():
        battle = await arena.start("anony", session_id="s1", judge_hash="j")
        battle, _ = await play(arena, battle.id, "hello")
        return battle

    battle = asyncio.run(scenario())
    assert battle.can_vote and side_of(battle, "Alpha-Model")
    arena.store.close()
