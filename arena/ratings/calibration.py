"""How well each tie model predicts what voters did: per model pair, predicted vs observed win / tie / loss rates.

Bradley–Terry (ties as half a win) has no tie probability. To compare it on
the same three outcomes it is given the one tie rate a user of BT would quote:
the pooled observed tie rate τ of the category, with the decisive rest split
by BT's win probability, (1 − τ) σ(d), τ, (1 − τ) σ(−d). Rao–Kupper predicts all
three itself. Both are also compared on the expected score (P(win) + ½ P(tie)
against the observed win rate with ties as half), BT's own ground.

The mean absolute error of a pair is the mean over its three outcomes of
|predicted − observed|; the reported MAE is its mean over pairs weighted by the
pair's votes, so pairs seen once do not dominate. Observed rates are noisy:
even the true model scores about √(p (1 − p) / n) per outcome on a pair of n votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from arena.ratings.comparisons import Comparisons
from arena.ratings.rao_kupper import PairOutcomes, RaoKupperFit, rao_kupper_probabilities

BT_TIE_RULE = ("Bradley–Terry predicts the pooled observed tie rate for every pair and splits the decisive rest "
               "by its win probability")


@dataclass(frozen=True)
class Calibration:
    """Per pair (lower model index first): votes and (lower wins, tie, higher wins) rates, observed and predicted."""

    models: list[str]
    low: np.ndarray
    high: np.ndarray
    votes: np.ndarray
    observed: np.ndarray        # (pairs, 3)
    bradley_terry: np.ndarray   # (pairs, 3)
    rao_kupper: np.ndarray      # (pairs, 3)
    pooled_tie_rate: float

    def mae(self, predicted: np.ndarray, pairs: np.ndarray | None = None) -> float:
        """Vote-weighted mean over pairs (all, or the *pairs* mask) of the mean absolute error over the three outcomes."""
        keep = np.ones(len(self.votes), dtype=bool) if pairs is None else pairs
        weights = self.votes[keep]
        if weights.sum() <= 0:
            return float("nan")
        return float(np.abs(predicted[keep] - self.observed[keep]).mean(axis=1) @ weights / weights.sum())

    def score_mae(self, predicted: np.ndarray) -> float:
        """Vote-weighted mean absolute error of the expected score of the lower model (ties as half)."""
        score = predicted[:, 0] + 0.5 * predicted[:, 1]
        observed = self.observed[:, 0] + 0.5 * self.observed[:, 1]
        return float(np.abs(score - observed) @ self.votes / self.votes.sum()) if self.votes.sum() > 0 else float("nan")

    def by_model(self) -> dict[str, tuple[float, float, float]]:
        """Per model over its pairs: (observed tie rate, BT's MAE, Rao–Kupper's MAE)."""
        out = {}
        for i, name in enumerate(self.models):
            mine = (self.low == i) | (self.high == i)
            votes = self.votes[mine].sum()
            tie_rate = float(self.observed[mine, 1] @ self.votes[mine] / votes) if votes > 0 else float("nan")
            out[name] = (tie_rate, self.mae(self.bradley_terry, mine), self.mae(self.rao_kupper, mine))
        return out

    def rows(self, limit: int | None = None) -> list[dict]:
        """Plain dicts, the pairs with the most votes first (all of them without *limit*)."""
        order = np.argsort(-self.votes, kind="stable")[:limit]
        names = ("win", "tie", "loss")
        return [
            {"model_a": self.models[self.low[k]], "model_b": self.models[self.high[k]], "votes": int(round(self.votes[k])),
             **{f"observed_{o}": round(float(self.observed[k, j]), 4) for j, o in enumerate(names)},
             **{f"bt_{o}": round(float(self.bradley_terry[k, j]), 4) for j, o in enumerate(names)},
             **{f"rk_{o}": round(float(self.rao_kupper[k, j]), 4) for j, o in enumerate(names)}}
            for k in order
        ]


@dataclass(frozen=True)
class TieReport:
    """The tie model's parameter θ with its 95 % interval, and the calibration of both models."""

    theta: float
    theta_low: float
    theta_high: float
    calibration: Calibration


def calibrate(comparisons: Comparisons, bt_logits: np.ndarray, rao_kupper: RaoKupperFit) -> Calibration:
    """Observed rates of the raw votes per pair against BT's (see :data:`BT_TIE_RULE`) and Rao–Kupper's predictions."""
    pairs = PairOutcomes.of(comparisons)
    votes = pairs.won + pairs.tied + pairs.lost
    seen = votes > 0
    low, high, votes = pairs.low[seen], pairs.high[seen], votes[seen]
    observed = np.column_stack([pairs.won[seen], pairs.tied[seen], pairs.lost[seen]]) / votes[:, None]
    pooled = float(pairs.tied.sum() / votes.sum()) if votes.sum() > 0 else 0.0
    bt_win = expit(bt_logits[low] - bt_logits[high])
    bradley_terry = np.column_stack([(1.0 - pooled) * bt_win, np.full(len(low), pooled), (1.0 - pooled) * (1.0 - bt_win)])
    rk = np.column_stack(rao_kupper_probabilities(rao_kupper.theta[low] - rao_kupper.theta[high], rao_kupper.log_tie))
    return Calibration(list(comparisons.models), low, high, votes, observed, bradley_terry, rk, pooled)
