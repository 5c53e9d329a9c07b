"""Sparse and dense matrices over the comparison graph, shared by the bootstrap's refits and the sandwich."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix


def incidence(low: np.ndarray, high: np.ndarray, n: int) -> csr_matrix:
    """Sparse pairs × models matrix with +1 at the lower and −1 at the higher model of each pair."""
    rows = np.arange(len(low))
    return csr_matrix((np.r_[np.ones(len(low)), -np.ones(len(low))], (np.r_[rows, rows], np.r_[low, high])), shape=(len(low), n))


def laplacian(a: np.ndarray, b: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Σ_k weights[k] (e_a − e_b)(e_a − e_b)ᵀ, built with bincount."""
    pairs = np.bincount(a * n + b, weights=weights, minlength=n * n).reshape(n, n)
    adjacency = pairs + pairs.T
    return np.diag(adjacency.sum(axis=1)) - adjacency
