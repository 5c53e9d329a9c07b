"""Plotly figures for the leaderboard: intervals and pairwise matrices."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from arena.leaderboard import Leaderboard

PLOT_HEIGHT = 520


NO_VOTES = "No counted votes yet: the plots appear after the first anonymous battles are voted on."


def empty_figure(title: str) -> go.Figure:
    """A titled figure that says why it is empty, instead of axes with nothing on them (or an exception)."""
    figure = go.Figure()
    figure.update_layout(
        title=title, height=PLOT_HEIGHT // 2, xaxis={"visible": False}, yaxis={"visible": False},
        annotations=[{"text": NO_VOTES, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
    )
    return figure


def ci_chart(board: Leaderboard) -> go.Figure:
    """Score with its 95% interval per model, best on the left."""
    rows = board.ratings.rows
    title = f"Arena score with 95% {board.ratings.ci_method} interval"
    if not rows:
        return empty_figure(title)
    plus, minus = _drawn_sides(rows)
    figure = go.Figure(
        go.Scatter(
            x=[r.model for r in rows],
            y=[r.score for r in rows],
            mode="markers",
            marker={"size": 9, "symbol": ["circle-open" if r.provisional else "circle" for r in rows]},
            error_y={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
            customdata=[[_side(r.ci_high - r.score), _side(r.score - r.ci_low), " (provisional)" if r.provisional else ""] for r in rows],
            hovertemplate="%{x}%{customdata[2]}<br>score %{y:.1f}<br>+%{customdata[0]} / -%{customdata[1]}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title, yaxis_title="Arena score",
        height=PLOT_HEIGHT, margin={"l": 60, "r": 20, "t": 60, "b": 120},
    )
    return figure


def _side(width: float) -> str:
    return "∞" if not math.isfinite(width) else f"{width:.0f}"


def _drawn_sides(rows: list) -> tuple[list[float], list[float]]:
    """Error-bar lengths; an unbounded side is drawn past every bounded one (twice the widest, at least 400 points)."""
    finite = [w for r in rows for w in (r.ci_high - r.score, r.score - r.ci_low) if math.isfinite(w)]
    long = max([400.0, *(2 * w for w in finite)])
    return ([r.ci_high - r.score if math.isfinite(r.ci_high) else long for r in rows],
            [r.score - r.ci_low if math.isfinite(r.ci_low) else long for r in rows])


def heatmap(matrix: np.ndarray, models: list[str], title: str, *, percent: bool) -> go.Figure:
    """Row model vs column model; NaN cells (no battles, or the diagonal) stay blank."""
    if not models:
        return empty_figure(title)
    values = np.asarray(matrix, dtype=float)
    label = np.vectorize(lambda v: f"{v:.0%}" if percent else f"{v:,.0f}", otypes=[object])
    text = np.where(np.isnan(values), "", label(np.nan_to_num(values)))
    figure = go.Figure(
        go.Heatmap(
            z=values, x=models, y=models, text=text, texttemplate="%{text}" if len(models) <= 20 else None,
            colorscale="RdBu" if percent else "Blues", zmin=0 if percent else None, zmax=1 if percent else None,
            hovertemplate="%{y} vs %{x}: %{z}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title, height=PLOT_HEIGHT, xaxis_title="Model B", yaxis_title="Model A",
        yaxis={"autorange": "reversed"}, margin={"l": 140, "r": 20, "t": 60, "b": 120},
    )
    return figure


def win_fraction_heatmap(board: Leaderboard) -> go.Figure:
    return heatmap(board.ratings.win_fraction, board.ratings.models, "Fraction of battles won by A over B (ties = ½)", percent=True)


def battle_count_heatmap(board: Leaderboard) -> go.Figure:
    counts = board.ratings.battle_counts.astype(float)
    np.fill_diagonal(counts, np.nan)
    return heatmap(counts, board.ratings.models, "Battles between each pair", percent=False)


def predicted_heatmap(board: Leaderboard) -> go.Figure:
    return heatmap(board.ratings.predicted, board.ratings.models, "Predicted probability that A beats B", percent=True)
