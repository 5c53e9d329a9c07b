"""Classic online Elo, the leaderboard's secondary column: order-dependent by design."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def online_elo(a: Sequence[int], b: Sequence[int], score: Sequence[float], n_models: int, *,
               k: float = 4.0, base: float = 10.0, scale: float = 400.0, initial: float = 1000.0,
               start: Sequence[float] | None = None) -> np.ndarray:
    """Classic online Elo in vote order (secondary column; order-dependent by design).

    *start* continues from earlier ratings, so new votes can be folded in incrementally.
    """
    ratings = [initial] * n_models if start is None else [float(r) for r in start]
    for i, j, s in zip(a, b, score):
        expected = 1.0 / (1.0 + base ** ((ratings[j] - ratings[i]) / scale))
        delta = k * (s - expected)
        ratings[i] += delta
        ratings[j] -= delta
    return np.array(ratings)
