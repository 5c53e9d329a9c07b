"""Each voter's tests after their first 10, 25, 50, 100 votes and after all of them, computed for all voters at once.

A test statistic here is a sum over a voter's votes, so the statistic after
the first c votes is a difference of prefix sums over the votes sorted by
voter (in vote order within a voter). One cumulative sum serves every voter
and every checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_CHECKPOINTS = (10, 25, 50, 100)


@dataclass(frozen=True)
class Layout:
    """The votes grouped by voter, and one row per (tested voter, checkpoint)."""

    order: np.ndarray       # vote indexes sorted by voter, vote order kept within a voter
    starts: np.ndarray      # per voter code: position of the voter's first vote in *order*
    counts: np.ndarray      # per voter code: how many votes
    tested: np.ndarray      # voter codes with at least the minimum number of votes
    row_voter: np.ndarray   # per row: the voter code
    row_length: np.ndarray  # per row: the number of the voter's first votes the row covers

    def totals(self, values: np.ndarray) -> np.ndarray:
        """Per row, the sum of *values* (per vote, any trailing shape) over the row's votes."""
        ordered = values[self.order]
        prefix = np.concatenate([np.zeros((1, *ordered.shape[1:])), np.cumsum(ordered, axis=0)])
        start = self.starts[self.row_voter]
        return prefix[start + self.row_length] - prefix[start]

    def checkpoints_per_voter(self) -> np.ndarray:
        """Per row, how many rows its voter has (the number of looks a correction must pay for)."""
        per_voter = np.bincount(self.row_voter, minlength=len(self.counts))
        return per_voter[self.row_voter]

    def row_index_of_tested(self) -> np.ndarray:
        """Per row, the position of its voter in *tested*."""
        position = np.full(len(self.counts), -1, dtype=np.int64)
        position[self.tested] = np.arange(len(self.tested))
        return position[self.row_voter]


def layout(voter: np.ndarray, n_voters: int, *, checkpoints: tuple[int, ...] = DEFAULT_CHECKPOINTS,
           min_votes: int = 10) -> Layout:
    """Group votes by voter; rows at each checkpoint a tested voter reached, and at all of their votes."""
    order = np.argsort(voter, kind="stable")
    counts = np.bincount(voter, minlength=n_voters)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if n_voters else np.zeros(0, dtype=np.int64)
    tested = np.flatnonzero(counts >= min_votes)
    voters, lengths = [], []
    for c in sorted(set(checkpoints)):
        reached = tested[counts[tested] > c]  # a voter with exactly c votes gets the row below, as "all"
        voters.append(reached)
        lengths.append(np.full(len(reached), c))
    voters.append(tested)
    lengths.append(counts[tested])
    row_voter = np.concatenate(voters).astype(np.int64)
    row_length = np.concatenate(lengths).astype(np.int64)
    return Layout(order=order, starts=starts.astype(np.int64), counts=counts, tested=tested,
                  row_voter=row_voter, row_length=row_length)


__all__ = ["DEFAULT_CHECKPOINTS", "Layout", "layout"]
