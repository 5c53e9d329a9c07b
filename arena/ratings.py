"""Ratings from aggregated vote counts: Bradley–Terry by Newton's method.

Pure numpy; no SQL, no UI. Input is the per-outcome counts the store
aggregates in the database, never one Python object per vote.

Ties count as half a win for each side; "both bad" is a tie. A small ridge
penalty (``prior``) on the logits makes the estimate exist even when a model
has only wins or the comparison graph is disconnected: such models are pulled
toward the average rather than sent to infinity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np

SCALE = 400.0 / math.log(10.0)
CENTER = 1000.0
DEFAULT_PRIOR = 1e-3


class Outcome(Protocol):
    model_a: str
    model_b: str
    winner: str
    count: int


@dataclass(frozen=True)
class RatingRow:
    rank: int
    model: str
    score: float
    votes: int
    wins: float


def win_matrix(outcomes: Iterable[Outcome]) -> tuple[list[str], np.ndarray]:
    """Models (sorted) and W where W[i, j] = wins of i over j, ties split half/half."""
    rows = list(outcomes)
    models = sorted({o.model_a for o in rows} | {o.model_b for o in rows})
    index = {m: k for k, m in enumerate(models)}
    wins = np.zeros((len(models), len(models)))
    for o in rows:
        a, b = index[o.model_a], index[o.model_b]
        if o.winner == "model_a":
            wins[a, b] += o.count
        elif o.winner == "model_b":
            wins[b, a] += o.count
        else:
            wins[a, b] += 0.5 * o.count
            wins[b, a] += 0.5 * o.count
    return models, wins


def fit_bradley_terry(wins: np.ndarray, *, prior: float = DEFAULT_PRIOR, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Maximum a-posteriori BT logits (mean zero) for a win matrix, by Newton's method.

    Parameters
    ----------
    wins : (n, n) array, ``wins[i, j]`` = (fractional) wins of i over j.
    prior : ridge penalty on the logits; keeps the estimate finite.

    Returns
    -------
    (n,) array of logits centred at zero.
    """
    n = wins.shape[0]
    theta = np.zeros(n)
    if n < 2:
        return theta
    games = wins + wins.T
    for _ in range(max_iter):
        diff = theta[:, None] - theta[None, :]
        p = 1.0 / (1.0 + np.exp(-diff))
        grad = (wins - games * p).sum(axis=1) - prior * theta
        weight = games * p * (1.0 - p)
        hessian = weight.copy()
        np.fill_diagonal(hessian, -weight.sum(axis=1) + np.diag(weight))
        hessian -= prior * np.eye(n)
        step = np.linalg.solve(hessian, grad)
        theta = theta - step
        if np.max(np.abs(step)) < tol:
            break
    return theta - theta.mean()


def to_scores(theta: np.ndarray) -> np.ndarray:
    """Logits on the familiar arena scale: 400 / ln 10 per logit, centred at 1000."""
    return CENTER + SCALE * (theta - theta.mean())


def leaderboard(outcomes: Sequence[Outcome], *, min_votes: int = 0) -> list[RatingRow]:
    """Rows sorted by Bradley–Terry score; models with fewer than *min_votes* are hidden."""
    models, wins = win_matrix(outcomes)
    if not models:
        return []
    scores = to_scores(fit_bradley_terry(wins))
    games = (wins + wins.T).sum(axis=1)
    order = np.argsort(-scores)
    rows: list[RatingRow] = []
    for position, k in enumerate(order, start=1):
        if games[k] < min_votes:
            continue
        rows.append(RatingRow(rank=position, model=models[k], score=float(scores[k]), votes=int(round(games[k])), wins=float(wins[k].sum())))
    return rows
