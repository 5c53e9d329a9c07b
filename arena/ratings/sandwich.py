"""Robust (sandwich) covariance of Bradley–Terry logits: intervals without refits."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from arena.ratings.bradley_terry import DEFAULT_PRIOR
from arena.ratings.comparisons import Comparisons
from arena.ratings.matrices import laplacian


def sandwich_covariance(comparisons: Comparisons, theta: np.ndarray, *, prior: float = DEFAULT_PRIOR,
                        counts: np.ndarray | None = None) -> np.ndarray:
    """Robust (sandwich) covariance H⁻¹ J H⁻¹ of the logits, from per-vote score outer products."""
    n = comparisons.n_models
    counts = comparisons.count if counts is None else counts
    a, b = comparisons.a, comparisons.b
    p = expit(theta[a] - theta[b])
    information = laplacian(a, b, counts * p * (1.0 - p), n) + prior * np.eye(n)
    meat = laplacian(a, b, counts * (comparisons.score - p) ** 2, n)
    inverse = np.linalg.inv(information)
    return inverse @ meat @ inverse
