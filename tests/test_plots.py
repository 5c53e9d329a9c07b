"""Leaderboard figures, for an empty arena and for one with votes."""

from __future__ import annotations

import plotly.graph_objects as go

from arena.leaderboard import LeaderboardQuery, LeaderboardService
from arena.store import Store
from arena.ui import plots
from tests.helpers import records

FIGURES = (plots.ci_chart, plots.win_fraction_heatmap, plots.battle_count_heatmap, plots.predicted_heatmap)


def test_an_arena_without_votes_gets_figures_that_say_so(store: Store) -> None:
    board = LeaderboardService(store).get(LeaderboardQuery(rounds=5))
    assert board.ratings.models == []
    for make in FIGURES:
        figure = make(board)
        assert isinstance(figure, go.Figure) and not figure.data
        assert figure.layout.annotations[0].text == plots.NO_VOTES


def test_figures_with_votes_show_every_model(store: Store) -> None:
    store.insert_battles(records(store, 120, seed=3))
    board = LeaderboardService(store).get(LeaderboardQuery(rounds=5))
    models = board.ratings.models
    assert len(models) >= 2
    chart = plots.ci_chart(board)
    assert list(chart.data[0].x) == [r.model for r in board.ratings.rows]
    for make in FIGURES[1:]:
        heat = make(board).data[0]
        assert list(heat.x) == models and len(heat.text) == len(models)
        assert all(cell == "" for cell in (heat.text[i][i] for i in range(len(models))))  # the diagonal stays blank


def test_the_tables_interval_never_reads_plus_minus_zero() -> None:
    """An interval side is never negative (the interval holds the score) and an unbounded one reads ∞, never '+-0'."""
    from arena.leaderboard import interval_text

    assert interval_text({"ci_plus": 0.0, "ci_minus": 0.0}) == "+0 / -0"
    assert interval_text({"ci_plus": 12.4, "ci_minus": 9.6}) == "+12 / -10"
    assert interval_text({"ci_plus": None, "ci_minus": 636.2}) == "+∞ / -636"
    assert interval_text({"ci_plus": 3.14, "ci_minus": None}, digits=1) == "+3.1 / -∞"
