"""The arena service against real HTTP upstreams: concurrency, failures, stop, leaks, votes."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from arena.battle import Battle, RuleViolation
from arena.service import Arena, StoreUnavailable
from arena.tables import Message
from tests.helpers import make_arena, models_yaml, play, side_of
from tests.upstream import Behavior, Upstream


@pytest.fixture
def arena(tmp_path: Path, database_url: str, up: Upstream, up2: Upstream) -> Iterator[Arena]:
    a = make_arena(tmp_path, models_yaml(up.url, up2.url), database_url, first_token_timeout=2.0, total_timeout=5.0)
    yield a
    a.store.close()


async def start(arena: Arena, session: str = "s1"):
    return await arena.start("anony", session_id=session, judge_hash=arena.judge_hash(session))


def test_both_sides_stream_concurrently(arena: Arena, up: Upstream, up2: Upstream) -> None:
    """Two slow upstreams answer in about the time of one, not two (both panes stream at once)."""
    up.behavior = Behavior(reply="a" * 10, chunks=10, token_delay_s=0.1)
    up2.behavior = Behavior(reply="b" * 10, chunks=10, token_delay_s=0.1)

    async def scenario():
        battle = await start(arena)
        loop = asyncio.get_running_loop()
        began = loop.time()
        battle, updates = await play(arena, battle.id, "hi")
        return battle, updates, loop.time() - began

    battle, updates, elapsed = asyncio.run(scenario())
    assert battle.can_vote and updates > 3
    assert elapsed < 1.8, f"sides ran one after the other ({elapsed:.2f} s)"


def test_system_prompt_and_sampling_reach_the_server(arena: Arena, up: Upstream) -> None:
    """The model's system prompt, temperature, top_p and max_tokens are sent; history grows per turn."""

    async def scenario():
        battle = await start(arena)
        await play(arena, battle.id, "first")
        await play(arena, battle.id, "second")

    asyncio.run(scenario())
    body = up.requests[-1]
    assert body["messages"][0] == {"role": "system", "content": "You are Alpha."}
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["temperature"] == 0.3 and body["top_p"] == 0.8 and body["max_tokens"] == 77


def test_failure_on_one_side(arena: Arena, up: Upstream) -> None:
    """HTTP 500 on one side: that pane errors, the other finishes, no vote, failure stored."""
    up.behavior = Behavior(status=500)

    async def scenario():
        battle = await start(arena)
        battle, _ = await play(arena, battle.id, "hi")
        with pytest.raises(RuleViolation, match="cannot be voted"):
            await arena.vote(battle.id, "model_a", "s1")
        return battle

    battle = asyncio.run(scenario())
    failed = side_of(battle, "Alpha-Model")
    other = "b" if failed == "a" else "a"
    assert battle.sides[failed].status == "error" and battle.sides[other].status == "done"
    assert battle.sides[failed].public_error == "the model server returned an error"
    row = arena.store.battle_row(battle.id)
    assert row.status == "failed" and row.error_flag and "HTTP 500" in row.error_detail


def test_stop_keeps_partial_answers(arena: Arena, up: Upstream, up2: Upstream) -> None:
    """Stop ends both streams quickly, keeps the partial text, allows a vote and stores 'stopped'."""
    up.behavior = Behavior(reply="x" * 100, chunks=100, token_delay_s=0.05)
    up2.behavior = Behavior(reply="y" * 100, chunks=100, token_delay_s=0.05)

    async def scenario():
        battle = await start(arena)
        seen = 0
        async for update in arena.send(battle.id, "long please", "s1"):
            seen += 1
            if seen == 3:
                await arena.stop(battle.id, "s1")
        assert battle.can_vote
        await arena.vote(battle.id, "tie", "s1")
        return battle

    battle = asyncio.run(scenario())
    for side in battle.sides.values():
        assert side.status == "stopped" and 0 < len(side.last_answer) < 100
    with arena.store.session() as session:
        reasons = set(session.scalars(select(Message.finish_reason).where(Message.role == "assistant")))
    assert reasons == {"stopped"}


def test_identity_leak_is_flagged_and_not_counted(arena: Arena, up: Upstream) -> None:
    """An answer naming its maker flags the battle: the vote is stored but not counted."""
    up.behavior = Behavior(reply="Hello! I was built by Alpha Labs.")

    async def scenario():
        battle = await start(arena)
        battle, _ = await play(arena, battle.id, "hi")
        display = arena.display_filter(battle)
        assert "Alpha Labs" not in display(battle.sides[side_of(battle, "Alpha-Model")].last_answer)  # hidden on screen
        return battle, await arena.vote(battle.id, "model_a", "s1")

    battle, receipt = asyncio.run(scenario())
    assert battle.leaked and not receipt.counted
    assert arena.display_filter(battle) is None  # shown as written once the names are revealed
    row = arena.store.battle_row(battle.id)
    assert row.leak_flag and "alpha labs" in row.leak_terms
    assert arena.store.outcome_counts() == []


def test_retried_vote_returns_the_original(arena: Arena) -> None:
    """Double clicks (concurrent or repeated) store one vote and get the first result; a different vote is refused."""

    async def scenario():
        battle = await start(arena)
        await play(arena, battle.id, "hi")
        first, second = await asyncio.gather(arena.vote(battle.id, "model_a", "s1"), arena.vote(battle.id, "model_a", "s1"))
        third = await arena.vote(battle.id, "model_a", "s1")
        with pytest.raises(RuleViolation, match="already voted"):
            await arena.vote(battle.id, "tie", "s1")
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert first == second == third and first.winner == "model_a"
    with arena.store.engine.connect() as conn:
        assert conn.execute(text("SELECT winner FROM votes")).scalars().all() == ["model_a"]


def test_a_vote_cancelled_during_its_write_is_still_the_battles_vote(arena: Arena, monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler cancelled while its vote is being written: the write commits, and a later other click is refused by name."""
    real = arena.store.record_vote
    writing = threading.Event()

    def slow(*args, **kwargs):
        writing.set()
        time.sleep(0.2)
        return real(*args, **kwargs)

    async def scenario():
        battle = await start(arena)
        await play(arena, battle.id, "hi")
        monkeypatch.setattr(arena.store, "record_vote", slow)
        first = asyncio.create_task(arena.vote(battle.id, "model_a", "s1"))
        while not writing.is_set():
            await asyncio.sleep(0.005)
        first.cancel()  # what Gradio does on POST /gradio_api/cancel
        with pytest.raises(RuleViolation, match="“A is better” is stored"):
            await arena.vote(battle.id, "model_b", "s1")
        return battle, await arena.vote(battle.id, "model_a", "s1")  # the same click again: acknowledged

    battle, receipt = asyncio.run(scenario())
    assert arena.store.vote_for(battle.id) == "model_a" == receipt.winner == battle.winner


def test_every_acknowledged_vote_is_the_stored_one_when_votes_are_cancelled_at_random(arena: Arena) -> None:
    """Votes cancelled at random moments, then another click: whatever is acknowledged is what is stored."""
    rng = random.Random(17)
    outcomes: list[tuple[str, str | None, str]] = []  # (battle id, acknowledged winner or None if refused, refusal)

    async def scenario():
        for i in range(24):
            battle = await start(arena, session=f"s{i}")
            await play(arena, battle.id, "hi", session=f"s{i}")
            first, second = rng.sample(["model_a", "model_b", "tie", "tie (bothbad)"], 2)
            task = asyncio.create_task(arena.vote(battle.id, first, f"s{i}"))
            await asyncio.sleep(rng.uniform(0, 0.01))
            task.cancel()
            try:
                acknowledged = await task
                outcomes.append((battle.id, acknowledged.winner, ""))
            except asyncio.CancelledError:
                pass
            try:
                outcomes.append((battle.id, (await arena.vote(battle.id, second, f"s{i}")).winner, ""))
            except RuleViolation as refusal:
                outcomes.append((battle.id, None, str(refusal)))

    asyncio.run(scenario())
    words = {"model_a": "A is better", "model_b": "B is better", "tie": "Tie", "tie (bothbad)": "Both are bad"}
    for battle_id, acknowledged, refusal in outcomes:
        stored = arena.store.vote_for(battle_id)
        assert stored is not None
        if acknowledged is not None:
            assert acknowledged == stored
        else:
            assert f"“{words[stored]}” is stored" in refusal
    assert any(refusal for _, _, refusal in outcomes), "no cancelled vote reached the database: the test proved nothing"


def test_votes_faster_than_the_minimum_are_refused(tmp_path: Path, sqlite_url: str, up: Upstream, up2: Upstream) -> None:
    """A vote within ARENA_MIN_VOTE_SECONDS of the answers finishing is refused; a later one is stored with its time."""
    arena = make_arena(tmp_path, models_yaml(up.url, up2.url), sqlite_url, min_vote_seconds=0.6)

    async def scenario():
        battle = await start(arena)
        await play(arena, battle.id, "hi")
        with pytest.raises(RuleViolation, match="read both answers"):
            await arena.vote(battle.id, "model_a", "s1")
        assert battle.can_vote  # refused, not spent
        await asyncio.sleep(0.7)
        return await arena.vote(battle.id, "model_a", "s1")

    receipt = asyncio.run(scenario())
    assert receipt.time_to_vote_s >= 0.6
    with arena.store.engine.connect() as conn:
        assert conn.execute(text("SELECT time_to_vote_s FROM votes")).scalar() >= 0.6
    arena.store.close()


def test_other_sessions_cannot_touch_a_battle(arena: Arena) -> None:
    """Another session can neither vote on, continue nor stop someone else's battle."""

    async def scenario():
        battle = await start(arena)
        await play(arena, battle.id, "hi")
        with pytest.raises(RuleViolation, match="another session"):
            await arena.vote(battle.id, "model_a", "intruder")
        with pytest.raises(RuleViolation, match="another session"):
            async for _ in arena.send(battle.id, "hijack", "intruder"):
                pass
        with pytest.raises(RuleViolation, match="expired or does not exist"):
            await arena.vote("no-such-battle", "model_a", "s1")

    asyncio.run(scenario())


def test_vote_not_acknowledged_when_the_database_fails(arena: Arena, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the vote's transaction fails, the voter is told to retry and a retry then succeeds."""

    async def scenario():
        battle = await start(arena)
        await play(arena, battle.id, "hi")
        real = arena.store.record_vote

        def broken(*args, **kwargs):
            raise OperationalError("INSERT INTO votes", {}, Exception("database is locked"))

        monkeypatch.setattr(arena.store, "record_vote", broken)
        with pytest.raises(StoreUnavailable, match="could not be saved"):
            await arena.vote(battle.id, "model_b", "s1")
        assert battle.winner is None and battle.can_vote
        monkeypatch.setattr(arena.store, "record_vote", real)
        return await arena.vote(battle.id, "model_b", "s1")

    receipt = asyncio.run(scenario())
    assert receipt.winner == "model_b" and arena.store.vote_for(receipt.battle_id) == "model_b"


def test_battle_not_started_when_the_database_fails(arena: Arena, up: Upstream, up2: Upstream,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The battle's first write runs while the models start; if it fails, the turn is taken back whole.

    The voter is told to retry, no answer is shown or kept, the streams already
    asked for are stopped, and a retry once the database is back plays normally.
    """
    up.behavior = Behavior(reply="slow answer", chunks=5, token_delay_s=0.2)
    up2.behavior = Behavior(reply="slow answer", chunks=5, token_delay_s=0.2)

    async def scenario():
        battle = await start(arena)
        real = arena.store.save_start

        def broken(*args, **kwargs):
            raise OperationalError("INSERT INTO battles", {}, Exception("connection refused"))

        monkeypatch.setattr(arena.store, "save_start", broken)
        updates = []
        with pytest.raises(StoreUnavailable, match="database is unavailable"):
            async for update in arena.send(battle.id, "hello", "s1"):
                updates.append(update)
        assert updates == []  # nothing reached the screen
        assert battle.turns == 0 and not battle.persisted and not battle.ever_failed
        assert all(side.messages == [] and side.stats == [] and side.status == "idle" for side in battle.sides.values())
        monkeypatch.setattr(arena.store, "save_start", real)
        await play(arena, battle.id, "hello again")
        return battle

    battle = asyncio.run(scenario())
    assert battle.persisted and battle.turns == 1 and battle.can_vote
    assert [m["content"] for m in battle.sides["a"].messages] == ["hello again", "slow answer"]


@pytest.mark.parametrize("action", ["vote", "regenerate"])
def test_a_turn_is_acted_on_only_once_wrapped_up(arena: Arena, up: Upstream, monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    """Answers all in, turn not yet checked and stored: the voter is not offered the vote, and a vote or regenerate waits.

    Why: a vote in that moment could count a leak not yet flagged or precede its
    turn in the database, and a regenerate could be stopped by the turn's cleanup.
    """
    import threading

    up.behavior = Behavior(reply="Hello! I was built by Alpha Labs.")
    entered, release = threading.Event(), threading.Event()
    real = arena.store.save_turn

    def slow_save_turn(*args, **kwargs):
        entered.set()
        release.wait(10)
        return real(*args, **kwargs)

    async def scenario():
        battle = await start(arena)
        offered = []  # for each update the voter sees: could they vote?

        async def consume():
            async for update in arena.send(battle.id, "hi", "s1"):
                offered.append(update.can_vote)

        sending = asyncio.create_task(consume())
        while not entered.is_set():
            await asyncio.sleep(0.01)
        assert battle.state == "awaiting_vote" and not any(offered)  # the answers are in, but not shown as votable
        monkeypatch.setattr(arena.store, "save_turn", real)
        if action == "vote":
            acting = asyncio.create_task(arena.vote(battle.id, "model_a", "s1"))
        else:
            async def regenerate():
                async for update in arena.regenerate(battle.id, "s1"):
                    pass
                return update
            acting = asyncio.create_task(regenerate())
        await asyncio.sleep(0.3)
        assert not acting.done()  # it waits for the turn's wrap-up
        release.set()
        await sending
        assert offered[-1]
        return battle, await acting

    monkeypatch.setattr(arena.store, "save_turn", slow_save_turn)
    battle, result = asyncio.run(scenario())
    if action == "vote":
        assert not result.counted  # the leak was flagged before the vote was taken
        assert arena.store.battle_row(battle.id).leak_flag
    else:
        assert all(side.status == "done" for side in result.sides.values())  # the new answers were not cut short
        assert [m["content"] for m in result.sides[side_of(result, "Alpha-Model")].messages] == ["hi", "Hello! I was built by Alpha Labs."]


def test_answers_in_before_the_start_is_stored_are_not_offered_for_a_vote_early(arena: Arena, up: Upstream,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A fast model and a slow database: both answers end while the battle's first write runs. The prompt's echo
    must not show that finished turn as votable before its leak check and storage (the echo came first, and did)."""
    import time

    up.behavior = Behavior(reply="Hello! I was built by Alpha Labs.")
    stored: list[bool] = []
    real_start, real_turn = arena.store.save_start, arena.store.save_turn

    def slow_save_start(*args, **kwargs):
        time.sleep(0.5)  # the answers (instant here) are all in meanwhile
        return real_start(*args, **kwargs)

    def recorded_save_turn(*args, **kwargs):
        real_turn(*args, **kwargs)
        stored.append(True)

    monkeypatch.setattr(arena.store, "save_start", slow_save_start)
    monkeypatch.setattr(arena.store, "save_turn", recorded_save_turn)

    async def scenario() -> list[tuple[bool, bool, bool]]:
        battle = await start(arena)
        return [(update.can_vote, update.leaked, bool(stored)) async for update in arena.send(battle.id, "hi", "s1")]

    seen = asyncio.run(scenario())
    assert seen[-1] == (True, True, True)  # votable in the end: leak flagged, turn stored
    assert all(stored_then for votable, _, stored_then in seen if votable), seen


def test_unavailable_models_leave_pairing(tmp_path: Path, sqlite_url: str, up: Upstream) -> None:
    """A model whose /models probe fails is not paired; with one model left, a clear message."""
    up.behavior = Behavior(models_status=500)
    arena = make_arena(tmp_path, models_yaml(up.url, "http://127.0.0.1:9/v1"), sqlite_url)
    assert arena.pool.candidates() == []
    with pytest.raises(RuleViolation, match="at least two available models"):
        asyncio.run(start(arena))
    arena.store.close()


def test_regenerate_through_the_service(arena: Arena, up: Upstream, up2: Upstream) -> None:
    """Regenerate asks both upstreams again for the same turn and keeps one user turn."""

    async def scenario():
        battle = await start(arena)
        await play(arena, battle.id, "hello")
        async for battle in arena.regenerate(battle.id, "s1"):
            pass
        return battle

    before = len(up.requests) + len(up2.requests)
    battle = asyncio.run(scenario())
    assert len(up.requests) + len(up2.requests) == before + 4
    assert battle.turns == 1 and battle.can_vote
    assert up.requests[-1]["messages"] == up.requests[-2]["messages"]


def test_screen_updates_share_a_budget(arena: Arena) -> None:
    """Few streaming battles refresh 10 times a second; many share a total budget and refresh less often each."""
    from arena.service import UI_REFRESH_S, UI_UPDATES_PER_S

    assert arena.turns.refresh_interval() == UI_REFRESH_S
    arena.turns._streaming = UI_UPDATES_PER_S  # as many battles streaming as updates in the budget
    assert arena.turns.refresh_interval() == pytest.approx(1.0)
    arena.turns._streaming = 0


def test_finished_answers_are_not_held_back_by_the_refresh_interval(
    arena: Arena, up: Upstream, up2: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy arena refreshes each battle rarely, but answers that finish show (and open the vote) at once.

    Before, the stream slept out the whole interval after its last token.
    """
    up.behavior = Behavior(reply="a" * 6, chunks=6, token_delay_s=0.05)
    up2.behavior = Behavior(reply="b" * 6, chunks=6, token_delay_s=0.05)
    monkeypatch.setattr(arena.turns, "refresh_interval", lambda: 6.0)  # as under a heavy load

    async def scenario() -> tuple[Battle, float]:
        battle = await start(arena)
        loop = asyncio.get_running_loop()
        began = loop.time()
        battle, _ = await play(arena, battle.id, "hi")
        return battle, loop.time() - began

    battle, elapsed = asyncio.run(scenario())
    assert battle.can_vote
    assert elapsed < 3.0, f"the finished answers waited for the next refresh ({elapsed:.2f} s)"


def test_language_is_detected_before_the_vote(arena: Arena) -> None:
    """A stored turn leaves the battle's language in the cache, so the vote does not wait for the detector."""
    from arena.language import detect_language

    prompt = "Quelle est la capitale de la France et pourquoi ?"

    async def scenario() -> tuple[int, int]:
        battle = await start(arena)
        await play(arena, battle.id, prompt)
        before = detect_language.cache_info().hits
        await arena.vote(battle.id, "model_a", "s1")
        return before, detect_language.cache_info().hits

    detect_language.cache_clear()
    before, after = asyncio.run(scenario())
    assert after == before + 1  # the vote's detection was a cache hit
    with arena.store.engine.connect() as conn:
        assert conn.execute(text("SELECT language FROM votes")).scalar() == "fr"
