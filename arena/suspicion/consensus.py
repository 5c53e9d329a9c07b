"""The consensus a voter is compared with: pair counts, Bradley–Terry strengths and tie rates from the other votes.

Each vote's outcome probabilities come from it: side A's model wins with
probability (1 − t)·σ(θa − θb), B's with (1 − t)·σ(θb − θa), and a tie with
t, the pair's tie rate shrunk towards the arena's (a pair with few votes
borrows the overall rate). Strengths are fitted on decisive votes only, so
that a voter's wins and losses are judged on the same scale as everyone's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from arena.ratings import fit_bradley_terry
from arena.suspicion.votes import A_WON, B_WON, TIE, VoterVotes

TIE_SHRINKAGE = 10.0  # a pair's tie rate counts as this many votes at the arena's overall rate


@dataclass(frozen=True)
class Consensus:
    """What the votes kept for the fit say about every pair."""

    counts: np.ndarray   # (models, models, 3): counts[i, j] = [i won, tie, j won], both orientations filled
    theta: np.ndarray    # Bradley–Terry logits from the decisive votes
    tie_rate: np.ndarray  # (models, models), symmetric

    def probabilities(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(votes, 3): P(A won), P(B won), P(tie) of votes between models *a* and *b*."""
        tie = self.tie_rate[a, b]
        win = expit(self.theta[a] - self.theta[b])
        return np.column_stack([(1.0 - tie) * win, (1.0 - tie) * (1.0 - win), tie])

    def win_probability(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """P(A won | the vote was decisive)."""
        return expit(self.theta[a] - self.theta[b])


def pair_counts(votes: VoterVotes, keep: np.ndarray | None = None) -> np.ndarray:
    """(models, models, 3) outcome counts of the kept votes, both orientations: ``[i, j]`` is [i won, tie, j won]."""
    k = votes.n_models
    a, b, outcome = (votes.a, votes.b, votes.outcome) if keep is None else (votes.a[keep], votes.b[keep], votes.outcome[keep])
    # A's view: column 0 if A won, 1 on a tie, 2 if B won; B's view mirrors it.
    a_column = np.select([outcome == A_WON, outcome == TIE], [0, 1], 2)
    cells = np.concatenate([(a * k + b) * 3 + a_column, (b * k + a) * 3 + 2 - a_column])
    return np.bincount(cells, minlength=k * k * 3).reshape(k, k, 3).astype(float)


def fit_consensus(votes: VoterVotes, keep: np.ndarray | None = None) -> Consensus:
    """The consensus of the votes where *keep* is true (all votes when None)."""
    counts = pair_counts(votes, keep)
    theta = fit_bradley_terry(counts[:, :, 0]) if votes.n_models >= 2 else np.zeros(votes.n_models)
    ties = counts[:, :, 1]
    games = counts.sum(axis=2)
    overall = ties.sum() / games.sum() if games.sum() else 0.0
    tie_rate = (ties + TIE_SHRINKAGE * overall) / (games + TIE_SHRINKAGE)
    return Consensus(counts=counts, theta=theta, tie_rate=tie_rate)


def own_pair_counts(votes: VoterVotes) -> np.ndarray:
    """(votes, 3): for each vote, the [A's model won, tie, B's model won] counts of its voter's own votes on that pair.

    Subtracted from the pair's counts, they leave the history of the *other*
    voters, which a vote is compared with (a voter is not their own reference).
    """
    k = max(votes.n_models, 1)
    low, high = np.minimum(votes.a, votes.b), np.maximum(votes.a, votes.b)
    key = (votes.voter * k + low) * k + high
    _, group = np.unique(key, return_inverse=True)
    flipped = votes.a > votes.b  # the canonical orientation puts the lower code first
    a_column = np.select([votes.outcome == A_WON, votes.outcome == TIE], [0, 1], 2)
    column = np.where(flipped, 2 - a_column, a_column)
    groups = int(group.max()) + 1 if len(group) else 0
    totals = np.bincount(group * 3 + column, minlength=groups * 3).reshape(groups, 3).astype(float)
    own = totals[group]
    return np.where(flipped[:, None], own[:, ::-1], own)


__all__ = ["A_WON", "B_WON", "TIE", "TIE_SHRINKAGE", "Consensus", "fit_consensus", "own_pair_counts", "pair_counts"]
