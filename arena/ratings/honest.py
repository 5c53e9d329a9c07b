"""Intervals that never claim more than the votes show: one-sided data, a single battle, a score outside its interval.

A model with only wins (or only losses) has no maximum-likelihood score: the
tiny prior holds it finite, and every bootstrap resample repeats the same
one-sided record, so the percentile interval collapses onto the prior-held
point and a young arena prints ``+0 / -0``. Three corrections:

* the open side is unbounded: only wins → no upper bound, only losses → no
  lower bound (``±inf``; shown as ∞, JSON ``null``);
* the closed side is no tighter than what the record itself supports: with n
  wins out of n battles the win probability against the model's average
  opponent is at least ``0.025 ** (1 / n)`` (the exact Clopper–Pearson 95 %
  bound), so the lower bound is at most the opponents' mean score plus that
  probability's logit in arena points (with one battle, about 640 points
  *below* the opponent: honestly wide); only losses mirror it;
* every interval contains its own score (a percentile interval of a
  prior-held point can miss it by a fraction of a point, which printed as
  ``--0``).

A model below ``provisional_votes`` votes is *provisional*: its row says so,
whatever its interval.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logit

from arena.ratings.scaling import SCALE

_ALPHA = 0.025  # one side of a 95 % interval


def honest_bounds(scores: np.ndarray, low: np.ndarray, high: np.ndarray, wins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corrected as the module says; *wins* is W[i, j], the (fractional) wins of i over j, ties half."""
    scores = np.asarray(scores, dtype=float)
    low = np.minimum(np.asarray(low, dtype=float), scores)
    high = np.maximum(np.asarray(high, dtype=float), scores)
    games_ij = wins + wins.T
    games = games_ij.sum(axis=1)
    won, lost = wins.sum(axis=1), wins.sum(axis=0)
    played = games > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        opponents = np.where(played, games_ij @ scores / games, scores)
        record_logit = SCALE * logit(np.power(_ALPHA, 1.0 / np.where(played, games, 1.0)))
    only_wins = played & (lost == 0)
    only_losses = played & (won == 0)
    low = np.where(only_wins, np.minimum(low, opponents + record_logit), low)
    high = np.where(only_losses, np.maximum(high, opponents - record_logit), high)
    high = np.where(only_wins, np.inf, high)
    low = np.where(only_losses, -np.inf, low)
    return low, high


def provisional(games: np.ndarray, provisional_votes: int) -> np.ndarray:
    """Per model: fewer votes than *provisional_votes* (0: none is provisional)."""
    return np.asarray(games, dtype=float) < provisional_votes


__all__ = ["honest_bounds", "provisional"]
