"""Simple signals per voter, shown beside the tests as evidence: side share, time to vote, bursts.

They are easy to read but have no trustworthy reference for an honest
voter (people read at very different speeds, and a keen voter may vote
twenty times in an evening), so they explain a flag rather than raise one.
The side share's binomial test is exact: sides are drawn at random, so an
honest voter picks A in half of their decisive votes whatever they prefer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from arena.suspicion.checkpoints import Layout
from arena.suspicion.votes import A_WON, B_WON, VoterVotes

BURST_WINDOW_S = 60.0


@dataclass(frozen=True)
class Signals:
    """Per tested voter (in ``Layout.tested`` order)."""

    votes: np.ndarray          # all votes
    decisive: np.ndarray       # votes for A or B
    share_a: np.ndarray        # share of decisive votes for side A (nan without decisive votes)
    side_pvalue: np.ndarray    # two-sided exact binomial test of share_a = ½
    tie_share: np.ndarray
    median_seconds: np.ndarray  # nan when the store has no times
    peak_per_minute: np.ndarray  # most votes within any 60 s (0 when the store has no moments)


def side_binomial(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Two-sided exact binomial p-value of *successes* in *trials* at ½ (twice the smaller tail, capped at 1)."""
    k, n = np.asarray(successes), np.asarray(trials)
    tails = np.minimum(binom.cdf(k, n, 0.5), binom.sf(k - 1, n, 0.5))
    return np.where(n > 0, np.minimum(1.0, 2.0 * tails), 1.0)


def median_per_voter(values: np.ndarray, rows: Layout) -> np.ndarray:
    """The median of *values* over each tested voter's votes."""
    ordered = values[rows.order]
    return np.array([np.median(ordered[s:s + n]) for s, n in zip(rows.starts[rows.tested], rows.counts[rows.tested])])


def peak_per_window(voter: np.ndarray, at: np.ndarray, rows: Layout, window: float = BURST_WINDOW_S) -> np.ndarray:
    """Per tested voter, the largest number of their votes within any *window* seconds."""
    order = np.lexsort((at, voter))
    v, t = voter[order].astype(float), at[order]
    span = (t.max() - t.min() + 2 * window) if len(t) else 1.0
    key = v * span + (t - (t.min() if len(t) else 0.0))  # one sorted axis: voters far apart, times within
    # strictly less than *window* seconds later, with a millisecond to spare for the database's clock arithmetic
    ahead = np.searchsorted(key, key + window - 1e-3, side="left") - np.arange(len(key))
    peaks = np.zeros(len(rows.counts), dtype=np.int64)
    np.maximum.at(peaks, voter[order], ahead)
    return peaks[rows.tested]


def simple_signals(votes: VoterVotes, rows: Layout) -> Signals:
    """The signals of every tested voter."""
    n = len(rows.counts)
    a_wins = np.bincount(votes.voter, weights=(votes.outcome == A_WON).astype(float), minlength=n)[rows.tested]
    b_wins = np.bincount(votes.voter, weights=(votes.outcome == B_WON).astype(float), minlength=n)[rows.tested]
    total = rows.counts[rows.tested]
    decisive = a_wins + b_wins
    with np.errstate(invalid="ignore", divide="ignore"):
        share_a = np.where(decisive > 0, a_wins / decisive, np.nan)
    seconds = (median_per_voter(votes.seconds, rows) if votes.seconds is not None and len(rows.tested)
               else np.full(len(rows.tested), np.nan))
    peaks = (peak_per_window(votes.voter, votes.at, rows) if votes.at is not None and len(rows.tested)
             else np.zeros(len(rows.tested), dtype=np.int64))
    return Signals(votes=total, decisive=decisive.astype(np.int64), share_a=share_a,
                   side_pvalue=side_binomial(a_wins, decisive), tie_share=(total - decisive) / np.maximum(total, 1),
                   median_seconds=seconds, peak_per_minute=peaks)


__all__ = ["BURST_WINDOW_S", "Signals", "peak_per_window", "side_binomial", "simple_signals"]
