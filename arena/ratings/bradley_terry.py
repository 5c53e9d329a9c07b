"""Bradley–Terry logits by Newton's method, one problem or a batch of independent ones at once.

A tiny ridge prior (``DEFAULT_PRIOR`` on the logits) keeps every estimate
finite: a model with only wins, or a comparison graph in disconnected pieces,
would otherwise have no maximum-likelihood estimate. With thousands of votes
its effect is far below a rating point.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

DEFAULT_PRIOR = 1e-3


def fit_bradley_terry(
    wins: np.ndarray, *, prior: float = DEFAULT_PRIOR, theta0: np.ndarray | None = None, tol: float = 1e-10, max_iter: int = 100
) -> np.ndarray:
    """MAP Bradley–Terry logits (mean zero) for a win matrix, by Newton's method.

    Parameters
    ----------
    wins : (n, n) array; ``wins[i, j]`` = (fractional) wins of i over j.
    prior : ridge penalty on the logits; keeps the estimate finite.
    theta0 : optional starting point (e.g. the full-data fit, for bootstrap rounds).

    Returns
    -------
    (n,) array of logits centred at zero.
    """
    return fit_bradley_terry_batch(wins[None], prior=prior, theta0=None if theta0 is None else theta0[None], tol=tol, max_iter=max_iter)[0]


def fit_bradley_terry_batch(
    wins: np.ndarray, *, prior: float = DEFAULT_PRIOR, theta0: np.ndarray | None = None, tol: float = 1e-8, max_iter: int = 100
) -> np.ndarray:
    """Fit R independent BT problems at once (``wins`` is (R, n, n)); one batched solve per Newton step."""
    rounds, n, _ = wins.shape
    theta = np.zeros((rounds, n)) if theta0 is None else np.array(theta0, dtype=float)
    if n < 2:
        return theta * 0.0
    games = wins + wins.transpose(0, 2, 1)
    diagonal = np.arange(n)
    for _ in range(max_iter):
        p = expit(theta[:, :, None] - theta[:, None, :])
        grad = (wins - games * p).sum(axis=2) - prior * theta
        hessian = games * p * (1.0 - p)  # off-diagonal of the *negative* Hessian, negated below
        hessian[:, diagonal, diagonal] = -hessian.sum(axis=2) - prior
        step = np.linalg.solve(hessian, grad[:, :, None])[:, :, 0]
        theta -= step
        if np.max(np.abs(step)) < tol:
            break
    return theta - theta.mean(axis=1, keepdims=True)
