"""The incrementally updated bootstrap: exactly multinomial after updates, and used by the service."""

from __future__ import annotations

import numpy as np
import pytest

from arena.leaderboard import LeaderboardQuery, LeaderboardService
from arena.live import LayoutChanged, LiveBootstrap
from arena.ratings import Comparisons, bootstrap_logits, fit_bradley_terry
from arena.store import Store
from tests.helpers import O, records

BASE = [O("x", "y", "model_a", 30), O("x", "y", "model_b", 20), O("y", "z", "tie", 10), O("x", "z", "model_a", 40)]


def test_fresh_live_bootstrap_equals_the_from_scratch_bootstrap() -> None:
    """With the same seed, a new LiveBootstrap has exactly the samples bootstrap_logits computes."""
    comparisons = Comparisons.from_outcomes(BASE)
    live = LiveBootstrap(comparisons, version=0, rounds=30, seed=4)
    theta = fit_bradley_terry(comparisons.win_matrix())
    assert np.allclose(live.samples, bootstrap_logits(comparisons, rounds=30, seed=4, theta0=theta), atol=1e-9)


def test_updated_resamples_are_exactly_multinomial() -> None:
    """After folding in new votes, each round's cell counts have the multinomial mean and variance of the new data."""
    comparisons = Comparisons.from_outcomes(BASE)
    live = LiveBootstrap(comparisons, version=0, rounds=6000, seed=1)
    new_cells = live.cells_of(["y", "z", "x", "x"], ["x", "y", "z", "z"], ["model_a", "tie", "model_b", "model_b"])
    live.add(new_cells, version=4)
    counts = live.merged.count
    total = counts.sum()
    assert total == 104 and np.all(live.draws.sum(axis=1) == total)
    p = counts / total
    assert np.allclose(live.draws.mean(axis=0), total * p, atol=0.35)
    occupied = p > 0
    assert np.allclose(live.draws[:, occupied].var(axis=0), (total * p * (1 - p))[occupied], rtol=0.08)


def test_updates_refit_to_the_new_optimum() -> None:
    """After an update the MLE and every resample's logits are the fits of the new data."""
    comparisons = Comparisons.from_outcomes(BASE)
    live = LiveBootstrap(comparisons, version=0, rounds=8, seed=2)
    live.add(live.cells_of(["z"] * 25, ["x"] * 25, ["model_a"] * 25), version=25)
    assert np.allclose(live.theta, fit_bradley_terry(live.merged.win_matrix()), atol=1e-7)
    from arena.ratings import fit_bradley_terry_batch

    exact = fit_bradley_terry_batch(np.stack([live.merged.win_matrix(d) for d in live.draws]))
    assert np.max(np.abs(live.samples - exact)) < 1e-4


def test_unknown_pair_needs_a_fresh_start() -> None:
    """A vote between models that never met cannot be folded in."""
    live = LiveBootstrap(Comparisons.from_outcomes(BASE), version=0, rounds=5)
    with pytest.raises(LayoutChanged):
        live.cells_of(["x"], ["newcomer"], ["model_a"])


def test_service_refreshes_incrementally_and_matches_a_full_computation(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """New votes update the live leaderboard without re-reading the counts; scores equal a from-scratch fit."""
    store.insert_battles(records(store, 300, seed=20))
    service = LeaderboardService(store)
    service.get(LeaderboardQuery())
    reads: list[str] = []
    real = store.outcome_columns
    monkeypatch.setattr(store, "outcome_columns", lambda category="overall": reads.append(category) or real(category))
    extra = [r for r in records(store, 60, seed=21) if {r.facts.model_a, r.facts.model_b} <= {"m1", "m2", "m3", "m4"}]
    store.insert_battles(extra)
    live = service.get(LeaderboardQuery())
    assert reads == []  # folded in, not recomputed
    fresh = LeaderboardService(store).compute(LeaderboardQuery())
    assert live.ratings.total_votes == fresh.ratings.total_votes
    for a, b in zip(live.ratings.rows, fresh.ratings.rows):
        assert a.model == b.model and a.score == pytest.approx(b.score, abs=1e-4)
        assert a.sandwich_low == pytest.approx(b.sandwich_low, abs=1e-4)
        assert (a.ci_high - a.ci_low) == pytest.approx(b.ci_high - b.ci_low, rel=0.35)


def test_service_recomputes_when_counts_disagree(store: Store) -> None:
    """If the counts table moved differently from the folded votes (a late commit), the service starts afresh."""
    if store.commits_in_id_order:
        pytest.skip("late commits cannot happen on SQLite (one writer, ids assigned in commit order); the check is skipped there")
    store.insert_battles(records(store, 200, seed=22))
    service = LeaderboardService(store)
    service.get(LeaderboardQuery())
    key = ("overall", 100, 0)
    live = service._live[key]
    live.version = 0  # pretend we missed nothing and must fold in every vote again: totals will not add up
    store.insert_battles(records(store, 20, seed=23))
    board = service.get(LeaderboardQuery())
    assert service._live[key] is not live
    assert board.ratings.total_votes == store.category_total("overall")


def test_sqlite_refresh_skips_the_late_commit_check(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite ids appear in commit order, so a refresh does not pay for summing the counts table."""
    if not store.commits_in_id_order:
        pytest.skip("PostgreSQL must check for late commits")
    store.insert_battles(records(store, 200, seed=24))
    service = LeaderboardService(store)
    service.get(LeaderboardQuery())
    monkeypatch.setattr(store, "category_total", lambda category: pytest.fail("category_total read on SQLite"))
    extra = [r for r in records(store, 40, seed=25) if {r.facts.model_a, r.facts.model_b} <= {"m1", "m2", "m3", "m4"}]
    store.insert_battles(extra)
    board = service.get(LeaderboardQuery())
    assert service._live[("overall", 100, 0)].version == store.votes_version()  # folded in, not recomputed
    assert board.ratings.total_votes == LeaderboardService(store).compute(LeaderboardQuery()).ratings.total_votes
