"""From logits to what a leaderboard reports: arena points, the contrast for covariances, Rank (UB).

Logits are reported on the arena scale: 400 / ln 10 points per logit, centred
so the average model scores 1000 (or pinned to an anchor model).
"""

from __future__ import annotations

import math

import numpy as np

SCALE = 400.0 / math.log(10.0)
CENTER = 1000.0


def scale_logits(theta: np.ndarray, *, anchor: int | None = None, anchor_score: float = CENTER) -> np.ndarray:
    """Logits on the arena scale; rows of a 2-D array are scaled independently."""
    theta = np.asarray(theta, dtype=float)
    reference = theta[..., anchor][..., None] if anchor is not None else theta.mean(axis=-1, keepdims=True)
    return anchor_score + SCALE * (theta - reference)


def contrast(n: int, anchor: int | None) -> np.ndarray:
    """Linear map from logits to reported (centred or anchored) logits, for covariance propagation."""
    if anchor is None:
        return np.eye(n) - np.full((n, n), 1.0 / n)
    matrix = np.eye(n)
    matrix[:, anchor] -= 1.0
    return matrix


def rank_upper_bound(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Rank (UB): 1 + number of models whose lower bound exceeds this model's upper bound."""
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)
