"""Style control: Bradley–Terry with per-vote covariates for how the answers look.

Needs one row per vote (the style counts of both answers), so unlike the
other fits its cost grows with the number of votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

STYLE_FEATURES = ("length", "headers", "lists", "bold")


@dataclass(frozen=True)
class StyleFit:
    theta: np.ndarray          # model logits (mean zero)
    coefficients: np.ndarray   # one per STYLE_FEATURES, per standard deviation of the feature
    covariance: np.ndarray     # sandwich covariance of (theta, coefficients)
    n_votes: int


def style_design(style_a: np.ndarray, style_b: np.ndarray) -> np.ndarray:
    """Per-vote covariates (a − b) / (a + b) for each feature, standardized over the votes (N × 4).

    Counts are non-negative, so a + b = 0 only where a − b = 0 too (covariate 0).
    Written with in-place operations: at millions of votes each temporary costs
    more than the arithmetic.
    """
    design = np.subtract(style_a, style_b, dtype=float)
    total = np.add(style_a, style_b, dtype=float)
    np.divide(design, total, out=design, where=total != 0)
    del total
    if len(design) == 0:
        return design
    design -= design.mean(axis=0)
    std = np.sqrt(np.einsum("ij,ij->j", design, design) / len(design))
    design /= np.where(std > 0, std, 1.0)
    return design


def fit_style_control(a: np.ndarray, b: np.ndarray, score: np.ndarray, design: np.ndarray, n_models: int, *,
                      l2: float = 1.0, tol: float = 1e-7, max_iter: int = 50, theta0: np.ndarray | None = None) -> StyleFit:
    """Bradley–Terry with per-vote style covariates, L2-regularized, by Newton's method.

    η = θ_a − θ_b + x·γ; the loss is the logistic loss with fractional targets
    (ties = ½) plus ``l2/2 · (|θ|² + |γ|²)``. *theta0* (e.g. the plain fit)
    starts Newton close to the answer. The sandwich's bread is the information
    of the last Newton step (taken within *tol* of the optimum), so each
    iteration costs one pass over the votes and the covariance one more.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    y = np.asarray(score, dtype=float)
    features = np.ascontiguousarray(np.asarray(design, dtype=float).T)  # (k, votes): contiguous per feature
    n, k = n_models, features.shape[0]
    pair = a * n + b
    theta = np.zeros(n) if theta0 is None else np.array(theta0, dtype=float)
    gamma = np.zeros(k)
    for _ in range(max_iter):
        p = expit(theta[a] - theta[b] + gamma @ features)
        residual = y - p
        grad = np.concatenate([_scatter(pair, residual, n) - l2 * theta, features @ residual - l2 * gamma])
        information = _style_information(pair, features, p * (1.0 - p), n) + l2 * np.eye(n + k)
        step = np.linalg.solve(information, grad)
        theta += step[:n]
        gamma += step[n:]
        if np.max(np.abs(step)) < tol:
            break
    meat = _style_information(pair, features, residual**2, n)
    inverse = np.linalg.inv(information)
    return StyleFit(theta=theta - theta.mean(), coefficients=gamma, covariance=inverse @ meat @ inverse, n_votes=len(y))


def _scatter(pair: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Σ values over votes, +1 at model A and −1 at model B (one bincount over the ordered pairs)."""
    per_pair = np.bincount(pair, values, n * n).reshape(n, n)
    return per_pair.sum(axis=1) - per_pair.sum(axis=0)


def _style_information(pair: np.ndarray, features: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """Σ w g gᵀ with g = (e_a − e_b, x): the Fisher information (or the sandwich's meat). *features* is (k, votes)."""
    k = features.shape[0]
    out = np.zeros((n + k, n + k))
    per_pair = np.bincount(pair, weight, n * n).reshape(n, n)
    adjacency = per_pair + per_pair.T
    out[:n, :n] = np.diag(adjacency.sum(axis=1)) - adjacency
    weighted = features * weight
    cross = np.stack([_scatter(pair, weighted[j], n) for j in range(k)], axis=1)
    out[:n, n:] = cross
    out[n:, :n] = cross.T
    out[n:, n:] = weighted @ features.T
    return out
