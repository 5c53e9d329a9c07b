"""Per-vote arrays: the packed SQLite read and the plain read return the same votes."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import delete

from arena import vote_arrays
from arena.categories import category_filter
from arena.ratings import OUTCOME_SCORE
from arena.store import Store
from arena.tables import VoteCount
from tests.helpers import records, watch_vote_reads


@pytest.fixture(autouse=True)
def packed_reads_for_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The packed SQLite path normally starts at 50,000 candidate rows; these tests use it at any size."""
    monkeypatch.setattr(vote_arrays, "PACKED_MIN_ROWS", 0)


def expected(store: Store, category: str, after_id: int = 0) -> list[tuple]:
    """(model_a, model_b, score, style_a, style_b) per vote, read row by row with the ORM columns."""
    names = ["model_a", "model_b", "winner", *[f"{f}_{s}" for s in "ab" for f in ("len", "headers", "lists", "bold")]]
    columns = store.vote_columns_for(category, names, after_id=after_id)
    decoded = {k: (v.decode() if hasattr(v, "decode") else v) for k, v in columns.items()}
    return [
        (decoded["model_a"][i], decoded["model_b"][i], OUTCOME_SCORE[decoded["winner"][i]],
         tuple(int(decoded[f"{f}_a"][i]) for f in ("len", "headers", "lists", "bold")),
         tuple(int(decoded[f"{f}_b"][i]) for f in ("len", "headers", "lists", "bold")))
        for i in range(len(decoded["model_a"]))
    ]


def as_tuples(arrays: vote_arrays.VoteArrays) -> list[tuple]:
    return [
        (arrays.models[a], arrays.models[b], float(s), tuple(int(x) for x in sa), tuple(int(x) for x in sb))
        for a, b, s, sa, sb in zip(arrays.a, arrays.b, arrays.score, arrays.style_a, arrays.style_b)
    ]


@pytest.mark.parametrize("category", ["overall", "all", "lang:en", "long_prompt"])
def test_vote_arrays_match_the_stored_columns(store: Store, category: str) -> None:
    store.insert_battles(records(store, 150, seed=40))
    arrays = store.vote_arrays(category, style=True)
    assert as_tuples(arrays) == expected(store, category)
    assert len(arrays) > 0 and arrays.last_id > 0


def test_after_id_reads_only_newer_votes(store: Store) -> None:
    store.insert_battles(records(store, 80, seed=41))
    first = store.vote_arrays("overall", style=True)
    store.insert_battles(records(store, 30, seed=42))
    newer = store.vote_arrays("overall", style=True, after_id=first.last_id)
    assert as_tuples(newer) == expected(store, "overall", after_id=first.last_id)
    assert first.last_id < newer.last_id <= store.votes_version()
    if store.commits_in_id_order:  # the bound is the newest id, whichever category it belongs to
        assert newer.last_id == store.votes_version()
    assert store.vote_arrays("overall", after_id=newer.last_id).a.size == 0


def test_sqlite_reads_packed_values(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite the packed query answers (the plain path is not used), large values included."""
    sqlite_store.insert_battles(records(sqlite_store, 60, seed=43))
    with sqlite_store.engine.begin() as conn:  # lengths and counts near the packing limits
        conn.exec_driver_sql("UPDATE votes SET len_a = 2000000000, bold_b = 2000000, headers_a = 1234567 WHERE id % 7 = 0")
    monkeypatch.setattr(vote_arrays, "_read_plain", lambda *a, **k: pytest.fail("plain path used"))
    arrays = sqlite_store.vote_arrays("all", style=True)
    monkeypatch.undo()
    assert as_tuples(arrays) == expected(sqlite_store, "all")
    assert arrays.style_a[:, 0].max() == 2_000_000_000 and arrays.style_b[:, 3].max() == 2_000_000


def test_model_missing_from_counts_falls_back_to_plain_columns(sqlite_store: Store) -> None:
    """A vote whose model the counts table does not know (e.g. counts not rebuilt) is still read, via the plain path."""
    sqlite_store.insert_battles(records(sqlite_store, 50, seed=44))
    with sqlite_store.engine.begin() as conn:
        conn.execute(delete(VoteCount).where(VoteCount.model_a == "m1"))
        conn.execute(delete(VoteCount).where(VoteCount.model_b == "m1"))
    arrays = sqlite_store.vote_arrays("overall", style=True)
    assert "m1" in arrays.models
    assert as_tuples(arrays) == expected(sqlite_store, "overall")


def test_packed_and_plain_paths_agree(sqlite_store: Store) -> None:
    sqlite_store.insert_battles(records(sqlite_store, 120, seed=45))
    where = category_filter("overall", sqlite_store.long_prompt_tokens)
    packed = vote_arrays._read_packed_sqlite(sqlite_store.engine, where, models=sqlite_store.category_models("overall"),
                                                style=True, after_id=5, upper=sqlite_store.votes_version())
    plain = vote_arrays._read_plain(sqlite_store.engine, where, style=True, after_id=5, created_before=None)
    assert packed is not None
    assert as_tuples(packed) == as_tuples(plain)
    assert np.array_equal(packed.score, plain.score)


def test_store_clamps_style_counts_to_what_the_packing_holds(store: Store) -> None:
    """Out-of-range style counts are stored clamped (never negative, never wider than their field)."""
    from dataclasses import replace

    from arena.vote_arrays import STYLE_LIMITS

    record = records(store, 1, seed=46)[0]
    huge = replace(record.facts, mode="anony", leak_flag=False, error_flag=False,
                   style_a=(2**40, 2**30, -5, 7), style_b=(-1, 3, 2**22, 2**21))
    store.insert_battles([replace(record, facts=huge)])
    arrays = store.vote_arrays("overall", style=True)
    assert arrays.style_a.tolist() == [[STYLE_LIMITS[0], STYLE_LIMITS[1], 0, 7]]
    assert arrays.style_b.tolist() == [[0, 3, STYLE_LIMITS[2], STYLE_LIMITS[3]]]


def test_extended_arrays_equal_one_read_of_all_votes(store: Store) -> None:
    """Arrays read in two steps and joined equal one read, even when the second step brings a new model."""
    store.insert_battles(records(store, 70, seed=47))
    first = store.vote_arrays("all", style=True)
    newcomer = [r for r in records(store, 20, seed=48)]
    from dataclasses import replace

    newcomer = [replace(r, facts=replace(r.facts, model_a="m9")) if i % 3 == 0 else r for i, r in enumerate(newcomer)]
    store.insert_battles(newcomer)
    joined = first.extended(store.vote_arrays("all", style=True, after_id=first.last_id))
    assert "m9" in joined.models
    assert as_tuples(joined) == as_tuples(store.vote_arrays("all", style=True)) == expected(store, "all")


def test_style_control_refresh_reads_only_new_votes(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service keeps the per-vote style arrays; a refresh reads the newer votes and fits the same as from scratch."""
    from arena.leaderboard import LeaderboardQuery, LeaderboardService

    store.insert_battles(records(store, 150, seed=49))
    service = LeaderboardService(store, elo_settle_s=0)
    query = LeaderboardQuery(style_control=True, rounds=5)
    service.get(query)
    store.insert_battles(records(store, 40, seed=50))
    seen = watch_vote_reads(monkeypatch, store)
    refreshed = service.get(query)
    assert seen and min(seen) > 0  # nothing read from the first vote again
    monkeypatch.undo()
    fresh = LeaderboardService(store).compute(query)
    assert refreshed.ratings.total_votes == fresh.ratings.total_votes
    for a, b in zip(refreshed.ratings.rows, fresh.ratings.rows):
        assert a.model == b.model and a.score == pytest.approx(b.score, abs=1e-6)
    for name, (coefficient, error) in fresh.ratings.style_coefficients.items():
        assert refreshed.ratings.style_coefficients[name] == pytest.approx((coefficient, error))


def test_small_reads_take_the_plain_path(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A few new votes are read plainly: no model list (a scan of the counts) and no temporary table."""
    monkeypatch.setattr(vote_arrays, "PACKED_MIN_ROWS", 50_000)
    sqlite_store.insert_battles(records(sqlite_store, 30, seed=51))
    monkeypatch.setattr(sqlite_store, "category_models", lambda category: pytest.fail("model list read for a small range"))
    arrays = sqlite_store.vote_arrays("all", style=True)
    assert as_tuples(arrays) == expected(sqlite_store, "all")


def test_parallel_read_of_two_halves_matches(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big reads split the ids between a helper process and this one; the joined arrays are the same votes, in order."""
    monkeypatch.setattr(vote_arrays, "PARALLEL_MIN_ROWS", 0)
    sqlite_store.insert_battles(records(sqlite_store, 90, seed=52))
    calls: list[str] = []
    real = vote_arrays.read_packed_parallel
    monkeypatch.setattr(vote_arrays, "read_packed_parallel", lambda *a, **k: calls.append("parallel") or real(*a, **k))
    arrays = sqlite_store.vote_arrays("all", style=True)
    assert calls == ["parallel"]
    assert as_tuples(arrays) == expected(sqlite_store, "all")
