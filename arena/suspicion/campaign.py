"""Directions along which a group of voters departs from the consensus together: a rigging campaign's fingerprint.

One account of a campaign that pushes a target (and pulls its competitors
down) casts too few votes to stand out alone, but many accounts push the
same way. Each voter's score vector U (per model: wins minus expected wins)
has covariance I (its Fisher information) under the consensus; a shared
push adds n·μμᵀ to U·Uᵀ/n for every account. The top generalised
eigenvectors of Σ U·Uᵀ/n against Σ I/n are the directions with the most
variance beyond noise.

The directions are cross-fitted: voters are split into two folds at random
(seeded), the directions are found on one fold and each voter is tested on
the other fold's, so a voter never helps choose the direction they are
tested on and the test keeps its level. A campaign of one account is not
found this way (its push lives in one fold only); the agreement and side
tests still see it.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh
from scipy.sparse import coo_matrix

from arena.suspicion.checkpoints import Layout
from arena.suspicion.scores import Decisive
from arena.suspicion.votes import VoterVotes

DEFAULT_RANK = 2


def folds(n_voters: int, seed: int) -> np.ndarray:
    """A fold (0 or 1) per voter code, balanced and seeded."""
    fold = np.arange(n_voters) % 2
    np.random.default_rng(seed).shuffle(fold)
    return fold


def directions(votes: VoterVotes, decisive: Decisive, rows: Layout, members: np.ndarray, rank: int) -> np.ndarray:
    """(models, rank) directions of excess shared variance among the tested voters where *members* (per voter code) is true."""
    k = votes.n_models
    tested = np.zeros(len(rows.counts), dtype=bool)
    tested[rows.tested] = True
    chosen = np.flatnonzero((members & tested)[votes.voter] & decisive.mask)
    if k < 3 or len(chosen) == 0:
        return np.zeros((k, rank))
    residual, variance = decisive.residual[chosen], decisive.variance[chosen]
    voter, a, b = votes.voter[chosen], votes.a[chosen], votes.b[chosen]
    per_vote = 1.0 / rows.counts[voter]
    root = np.sqrt(per_vote)  # U·Uᵀ/n is (U/√n)(U/√n)ᵀ: scale each vote's share of U by 1/√n
    scores = coo_matrix((np.concatenate([residual * root, -residual * root]),
                         (np.concatenate([voter, voter]), np.concatenate([a, b]))), shape=(len(rows.counts), k)).tocsr()
    spread = np.asarray((scores.T @ scores).todense())
    w = per_vote * variance
    cells = np.concatenate([a * k + a, b * k + b, a * k + b, b * k + a])
    noise = np.bincount(cells, weights=np.concatenate([w, w, -w, -w]), minlength=k * k).reshape(k, k)
    ridge = 1e-6 * max(np.trace(noise) / k, 1e-12)
    values, vectors = eigh(spread, noise + ridge * np.eye(k))
    top = vectors[:, np.argsort(values)[::-1][:rank]]
    top = top - top.mean(axis=0, keepdims=True)  # a shift common to all models changes no probability
    norms = np.linalg.norm(top, axis=0)
    return top / np.where(norms > 0, norms, 1.0)


def cross_fitted_weights(votes: VoterVotes, decisive: Decisive, rows: Layout, *, rank: int = DEFAULT_RANK,
                         seed: int = 0) -> np.ndarray:
    """(votes, rank): for each vote, va − vb on the directions found on the other fold than its voter's."""
    fold = folds(votes.n_voters, seed)
    found = [directions(votes, decisive, rows, fold == f, rank) for f in (0, 1)]
    other = 1 - fold[votes.voter]
    weights = np.empty((len(votes), rank))
    for f in (0, 1):
        mine = other == f
        weights[mine] = found[f][votes.a[mine]] - found[f][votes.b[mine]]
    return weights


__all__ = ["DEFAULT_RANK", "cross_fitted_weights", "directions", "folds"]
