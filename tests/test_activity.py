"""Admin activity views: votes per day and per model, flagged battles with their transcripts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from arena.activity import battle_transcripts, flagged_battles, votes_per_day, votes_per_model
from arena.store import Store
from tests.helpers import battle


def test_votes_per_day_and_per_model(store: Store) -> None:
    now = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    store.insert_battles([battle(i, "alpha", "beta", "model_a", when=now - timedelta(days=i % 3)) for i in range(7)])
    store.insert_battles([battle(20, "gamma", "alpha", "tie", when=now - timedelta(days=40))])  # outside the window
    days = votes_per_day(store, days=5)
    assert len(days) == 5 and days[-1][0] == now.date()
    assert [n for _, n in days] == [0, 0, 2, 2, 3]  # i % 3 == 2, 1, 0 from oldest to today
    assert votes_per_model(store) == [("alpha", 8), ("beta", 7), ("gamma", 1)]


def test_flagged_battles_newest_first_with_reasons_and_transcripts(store: Store) -> None:
    leak = battle(1, "alpha", "beta", "model_a", leak=True)
    moderated = battle(2, "alpha", "beta", "model_b", moderated=True, when=leak.created_at + timedelta(minutes=5))
    store.insert_battles([leak, moderated, battle(3, "alpha", "beta", "tie")])
    flagged = flagged_battles(store)
    assert [(f.battle_id, f.reasons) for f in flagged] == [(moderated.battle_id, ("moderation",)), (leak.battle_id, ("identity leak",))]
    transcripts = battle_transcripts(store, leak.battle_id)
    assert transcripts["a"] == [("user", "Question number 1?"), ("assistant", "alpha answers 1.0")]
    assert transcripts["b"][1] == ("assistant", "beta answers 1.0")
