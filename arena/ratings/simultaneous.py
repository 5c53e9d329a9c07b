"""Simultaneous (multiplicity-corrected) intervals: the chi-square construction of the Chatbot Arena paper.

A 95 % interval per model covers each model's score 95 % of the time, but with
M models the chance that *all* are covered at once is lower, and Rank (UB)
compares every pair. The asymptotic confidence ellipsoid
{θ : (θ − θ̂)ᵀ Σ⁻¹ (θ − θ̂) ≤ χ²_{M−1, 0.95}} of the (centred or anchored) scores
holds the true scores jointly with probability 95 %; projected on any linear
combination cᵀθ (one model's score, or a difference of two) it gives
cᵀθ̂ ± √(χ²_{M−1, 0.95} · cᵀΣc). The M − 1 degrees of freedom are the rank of the
covariance of scores that are centred (or pinned to an anchor). Every interval
of the projection is wider than the per-model one by √(χ²_{M−1, 0.95}) / 1.96
(1.57 at 5 models, 2.8 at 20, 7.8 at 200): the price of covering all models and
all their differences at once. (Bonferroni, z at 1 − 0.05 / 2M, would be
narrower for the scores alone, 1.9× at 200 models, but covers no differences.)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import chi2

LEVEL = 0.95


def simultaneous_multiplier(models: int, level: float = LEVEL) -> float:
    """√χ²_{M−1, level}: the half width in standard errors of a projection of the joint ellipsoid of M models' scores."""
    return math.sqrt(float(chi2.ppf(level, max(models - 1, 1))))


def simultaneous_half_widths(covariance: np.ndarray, transform: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """Per model, the half width (in logits) of the ellipsoid's projection, for the scores *transform* @ logits."""
    variance = np.clip(np.diag(transform @ covariance @ transform.T), 0.0, None)
    return simultaneous_multiplier(len(covariance), level) * np.sqrt(variance)
