"""Categories, incremental counts, the cached leaderboard service and the daily vote cap, on both databases."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from arena.categories import CATEGORIES, categories_of, category_filter
from arena.columnar import encode
from arena.leaderboard import LeaderboardQuery, LeaderboardService
from arena.ratings import OUTCOME_SCORE, online_elo
from arena.store import Store
from arena.tables import Vote, VoteCount
from tests.helpers import records, watch_vote_reads


def count_table(store: Store) -> dict[tuple[str, str, str, str], int]:
    with store.session() as session:
        return {(c, a, b, w): n for c, a, b, w, n in session.execute(select(VoteCount.category, VoteCount.model_a, VoteCount.model_b, VoteCount.winner, VoteCount.n))}


def test_python_rules_and_sql_filters_agree(store: Store) -> None:
    """Every category's Python predicate selects exactly the votes its SQL filter selects."""
    batch = records(store, 300, seed=1)
    store.insert_battles(batch)
    facts_by_id = {r.battle_id: r.facts for r in batch}
    with store.session() as session:
        for name in [*CATEGORIES, "lang:en", "lang:fr"]:
            selected = set(session.scalars(select(Vote.battle_id).where(category_filter(name, store.long_prompt_tokens))))
            expected = {i for i, f in facts_by_id.items() if name in categories_of(f, store.long_prompt_tokens)}
            assert selected == expected, name


def test_incremental_counts_equal_a_rebuild(store: Store) -> None:
    """Counts bumped vote by vote equal counts rebuilt from the votes table."""
    store.insert_battles(records(store, 200, seed=2))
    store.insert_battles(records(store, 150, seed=3))
    incremental = count_table(store)
    store.rebuild_vote_counts()
    assert count_table(store) == incremental and sum(v for k, v in incremental.items() if k[0] == "overall") > 0


def test_import_is_idempotent(store: Store) -> None:
    """Inserting the same battles twice skips them the second time."""
    batch = records(store, 50, seed=4)
    assert store.insert_battles(batch) == (50, 0)
    assert store.insert_battles(batch) == (0, 50)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Vote)) == 50


def test_service_caches_until_a_new_vote(store: Store) -> None:
    """get() reuses the result while no vote arrives, and recomputes after one."""
    store.insert_battles(records(store, 100, seed=5))
    service = LeaderboardService(store)
    first = service.get(LeaderboardQuery(rounds=20))
    assert service.get(LeaderboardQuery(rounds=20)) is first
    store.insert_battles(records(store, 10, seed=6))
    second = service.get(LeaderboardQuery(rounds=20))
    assert second is not first and second.version > first.version


def test_incremental_elo_equals_one_pass(store: Store) -> None:
    """Elo folded in over two refreshes equals Elo over all votes at once, in vote order."""
    service = LeaderboardService(store)
    store.insert_battles(records(store, 80, seed=7))
    service.get(LeaderboardQuery(rounds=5))
    store.insert_battles(records(store, 80, seed=8))
    board = service.get(LeaderboardQuery(rounds=5))
    columns = {k: encode(v).decode().tolist() for k, v in store.vote_columns_for("overall", ["model_a", "model_b", "winner"]).items()}
    names = sorted(set(columns["model_a"]) | set(columns["model_b"]))
    index = {m: i for i, m in enumerate(names)}
    expected = online_elo([index[m] for m in columns["model_a"]], [index[m] for m in columns["model_b"]],
                          [OUTCOME_SCORE[w] for w in columns["winner"]], len(names))
    for row in board.ratings.rows:
        assert row.elo == pytest.approx(expected[index[row.model]])


def test_daily_cap_keeps_each_judges_first_votes(store: Store) -> None:
    """With a cap of 2, a judge who voted 10 times in a day counts twice."""
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    batch = records(store, 40, seed=9, judges=1, start=start)  # one judge, 40 votes within one day
    store.insert_battles(batch)
    capped = store.outcome_counts_capped("anonymous", 2)
    assert sum(c.count for c in capped) == 2
    uncapped = sum(c.count for c in store.outcome_counts("anonymous"))
    assert uncapped == sum(1 for r in batch if r.facts.mode == "anony")


def test_categories_listed_in_display_order(store: Store) -> None:
    """Fixed categories come first, then languages that have votes."""
    store.insert_battles(records(store, 200, seed=10))
    listed = store.categories()
    fixed = [c for c in listed if not c.startswith("lang:")]
    assert fixed == [c for c in CATEGORIES if c in fixed] and listed[len(fixed):] == sorted(listed[len(fixed):])
    assert "lang:en" in listed


def test_style_control_query_runs_from_the_store(store: Store) -> None:
    """The style-controlled leaderboard reads per-vote rows and reports the four coefficients."""
    store.insert_battles(records(store, 400, seed=11))
    board = LeaderboardService(store).get(LeaderboardQuery(style_control=True))
    assert set(board.ratings.style_coefficients) == {"length", "headers", "lists", "bold"}
    assert board.ratings.ci_method == "sandwich" and len(board.ratings.rows) == 4


def test_unknown_category_is_a_clear_error(store: Store) -> None:
    """Asking for a category that does not exist names the known ones."""
    with pytest.raises(ValueError, match="known: overall"):
        store.outcome_counts("bogus")


@pytest.mark.parametrize("name", list(itertools.islice(CATEGORIES, 3)))
def test_every_fixed_category_has_a_description(name: str) -> None:
    """Categories carry a title and a description for the tab and the CLI."""
    assert CATEGORIES[name].title and CATEGORIES[name].description


def test_elo_state_survives_a_restart(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new service (a restarted app) resumes Elo from the saved state and reads only newer votes."""
    store.insert_battles(records(store, 60, seed=12))
    first = LeaderboardService(store).get(LeaderboardQuery(rounds=5))
    last_id = store.votes_version()
    seen = watch_vote_reads(monkeypatch, store)
    again = LeaderboardService(store).get(LeaderboardQuery(rounds=5))
    assert seen == [last_id]
    assert {r.model: r.elo for r in again.ratings.rows} == {r.model: r.elo for r in first.ratings.rows}


def test_comparisons_from_columns_match_from_outcomes(store: Store) -> None:
    """The columnar fast path builds the same comparisons as the per-row path."""
    from arena.ratings import Comparisons

    store.insert_battles(records(store, 120, seed=13))
    columns = store.outcome_columns("overall")
    fast = Comparisons.from_columns(columns["model_a"], columns["model_b"], columns["winner"], columns["n"])
    slow = Comparisons.from_outcomes(store.outcome_counts("overall"))
    assert fast.models == slow.models and (fast.win_matrix() == slow.win_matrix()).all()


def test_elo_waits_for_votes_to_settle(store: Store) -> None:
    """Votes younger than the settle window are left for a later refresh (no id is skipped on PostgreSQL).

    SQLite assigns ids in commit order, so there the newest votes are folded in at once.
    """
    now = datetime.now(timezone.utc)
    store.insert_battles(records(store, 20, seed=14, start=now - timedelta(hours=1)))
    store.insert_battles(records(store, 5, seed=15, start=now + timedelta(minutes=1)))  # "just committed"
    service = LeaderboardService(store, elo_settle_s=30)
    service.get(LeaderboardQuery(rounds=5))
    last_id, _ = store.load_elo("overall")
    with store.session() as session:
        settled = session.scalar(select(func.max(Vote.id)).where(Vote.created_at < now))
        newest = session.scalar(select(func.max(Vote.id)))
    if store.commits_in_id_order:
        assert last_id == newest
    else:
        assert last_id <= settled < newest
