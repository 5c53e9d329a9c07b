"""Intervals that never claim more than the votes show: one-sided data, a single battle, a score outside its interval.

A model with only wins (or only losses) has no maximum-likelihood score: the
tiny prior holds it finite, and every bootstrap resample repeats the same
one-sided record, so the percentile interval collapses onto the prior-held
point and a young arena prints ``+0 / -0``. Three corrections:

* a side is no tighter than the model's own record supports, when the record
  is thin (fewer than ``THIN_RECORD_VOTES`` votes) and the fitted side is less
  than half as wide, or the record is one-sided: the exact (Clopper–Pearson) 95 % bounds of
  its win rate against its average opponent, as arena points around the
  opponents' mean score. With only wins the upper bound is unbounded (``inf``;
  shown as ∞, JSON ``null``) and, with n wins, the lower one is the win
  probability ``0.025 ** (1 / n)`` (one battle: about 640 points *below* the
  opponent, honestly wide); only losses mirror it; a single tie is wide on
  both sides. A well-sampled model's fitted interval is left as it is;
* every interval contains its own score (a percentile interval of a
  prior-held point can miss it by a fraction of a point, which printed as
  ``--0``).

A model below ``provisional_votes`` votes is *provisional*: its row says so,
whatever its interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logit
from scipy.stats import beta

from arena.ratings.scaling import SCALE

_ALPHA = 0.025  # one side of a 95 % interval
# Below this many votes a mixed record's bootstrap can repeat itself (one tie: every resample is that tie); above it
# the fitted interval is the better one (it sees every opponent's uncertainty) and is left alone.
THIN_RECORD_VOTES = 30


def honest_bounds(scores: np.ndarray, low: np.ndarray, high: np.ndarray, wins: np.ndarray,
                  anchor: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corrected as the module says; *wins* is W[i, j], the (fractional) wins of i over j, ties half.

    The *anchor* model's interval is left alone: it is the scale's reference, exact by construction.
    """
    scores = np.asarray(scores, dtype=float)
    low = np.minimum(np.asarray(low, dtype=float), scores)
    high = np.maximum(np.asarray(high, dtype=float), scores)
    record = _records(scores, wins)
    only_wins, only_losses = record.played & (record.won >= record.games), record.played & (record.won <= 0)
    mixed = record.played & ~only_wins & ~only_losses & (record.games < THIN_RECORD_VOTES)
    if anchor is not None:
        only_wins[anchor] = only_losses[anchor] = mixed[anchor] = False
    with np.errstate(invalid="ignore"):
        # Mixed: a side less than half as wide as the record's is the bootstrap repeating a thin record; give it the
        # record's width, measured from the record's own centre (the opponents' mean plus the logit of its win rate).
        down, up = record.centre - record.low, record.high - record.centre
        low = np.where(mixed & ((scores - low) < 0.5 * down), np.minimum(low, scores - down), low)
        high = np.where(mixed & ((high - scores) < 0.5 * up), np.maximum(high, scores + up), high)
    # One-sided: the score is held by the prior, so the record's own bound stands on the closed side, nothing on the open one.
    low = np.where(only_wins, np.minimum(low, record.low), np.where(only_losses, -np.inf, low))
    high = np.where(only_losses, np.maximum(high, record.high), np.where(only_wins, np.inf, high))
    return low, high


@dataclass(frozen=True)
class _Record:
    played: np.ndarray
    games: np.ndarray
    won: np.ndarray
    centre: np.ndarray  # the opponents' mean score plus the logit of the win rate, in arena points
    low: np.ndarray     # exact 95 % bounds of the win rate, as arena points around the opponents' mean
    high: np.ndarray


def _records(scores: np.ndarray, wins: np.ndarray) -> _Record:
    """Per model, its win rate against its average opponent with exact (Clopper–Pearson) 95 % bounds, in arena points."""
    games_ij = wins + wins.T
    games, won = games_ij.sum(axis=1), wins.sum(axis=1)
    played = games > 0
    n = np.where(played, games, 1.0)
    w = np.clip(np.where(played, won, 0.5), 0.0, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        opponents = np.where(played, games_ij @ scores / n, scores)
        p_low = np.where(w > 0, beta.ppf(_ALPHA, np.maximum(w, 1e-12), n - w + 1), 0.0)
        p_high = np.where(w < n, beta.ppf(1 - _ALPHA, w + 1, np.maximum(n - w, 1e-12)), 1.0)
        return _Record(played, games, won, opponents + SCALE * logit(w / n), opponents + SCALE * logit(p_low),
                       opponents + SCALE * logit(p_high))


def provisional(games: np.ndarray, provisional_votes: int) -> np.ndarray:
    """Per model: fewer votes than *provisional_votes* (0: none is provisional)."""
    return np.asarray(games, dtype=float) < provisional_votes


__all__ = ["honest_bounds", "provisional"]
