"""Ties as ties and simultaneous intervals: calibration, coverage and the Rao–Kupper fit's cost, in one run.

    .venv/bin/python bench/ties.py [--quick]

1. **Calibration** on simulated arenas (strengths N(0, 1) logits, pairs drawn
   uniformly): the vote-weighted mean absolute error of predicted vs observed
   win / tie / loss rates per pair for Bradley–Terry (ties as half; its tie rate
   is the pooled one) and Rao–Kupper, beside the *noise floor*: the same MAE of
   the generating probabilities themselves, which sampling alone puts above 0.
   Three arenas: ties from Rao–Kupper with many votes per pair, the same with few
   votes per pair, and ties at a constant 10 % whatever the pair (the way
   ``bench/leaderboard.py`` makes them: Rao–Kupper's assumption is then wrong).
2. **Coverage** of the intervals on seeded arenas from known strengths: the
   share of arenas in which every model's true score is inside its interval at
   once, for the per-model 95 % intervals and the simultaneous (chi-square) ones,
   and the per-model intervals' coverage of one model at a time.
3. **Cost** at Nectar size (200 models, 3.8 M votes, aggregated into the
   store's cells: one per seating and outcome): the plain BT board
   (``compute_ratings``: fit, sandwich, 100-round bootstrap) as the baseline,
   the Rao–Kupper fit, its sandwich and bootstrap, the whole RK board, and the
   simultaneous intervals' extra cost. Median of 3.

A benchmark, not a test: nothing is asserted. The last line is
``rao-kupper board 200 models 3800000 votes: X s (bt board Y s) ratio Z``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arena.ratings import (  # after the path set-up
    SCALE,
    Comparisons,
    PairOutcomes,
    compute_ratings,
    fit_rao_kupper,
    rao_kupper_bootstrap,
    rao_kupper_sandwich,
)

WINNERS = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)


def outcome_probabilities(beta: np.ndarray, a: np.ndarray, b: np.ndarray, tie: float | None, tie_rate: float) -> np.ndarray:
    """(cells, 3) probabilities of a wins, tie, b wins: Rao–Kupper with *tie*, or BT with a constant *tie_rate*."""
    if tie is not None:
        win = 1 / (1 + tie * np.exp(beta[b] - beta[a]))
        loss = 1 / (1 + tie * np.exp(beta[a] - beta[b]))
        return np.column_stack([win, 1 - win - loss, loss])
    win = 1 / (1 + np.exp(beta[b] - beta[a]))
    return np.column_stack([(1 - tie_rate) * win, np.full(len(a), tie_rate), (1 - tie_rate) * (1 - win)])


def arena_counts(rng: np.random.Generator, beta: np.ndarray, votes: int, *, tie: float | None, tie_rate: float = 0.1,
                 popularity: np.ndarray | None = None) -> tuple[Comparisons, np.ndarray]:
    """Aggregated votes of a simulated arena over every ordered pair, as the store keeps them; and the true rates."""
    k = len(beta)
    a, b = (x.ravel() for x in np.meshgrid(np.arange(k), np.arange(k), indexing="ij"))
    keep = a != b
    a, b = a[keep], b[keep]
    weight = np.ones(len(a)) if popularity is None else popularity[a] * popularity[b]
    per_seating = rng.multinomial(votes, weight / weight.sum())
    rates = outcome_probabilities(beta, a, b, tie, tie_rate)
    outcome = np.array([rng.multinomial(n, p) for n, p in zip(per_seating, rates)])  # (seatings, 3)
    ties = rng.binomial(outcome[:, 1], 0.3)  # some ties are "both bad": the same tie to every model here
    columns = np.column_stack([outcome[:, 0], outcome[:, 2], outcome[:, 1] - ties, ties])
    names = np.array([f"model-{i:03d}" for i in range(k)], dtype=object)
    comparisons = Comparisons.from_columns(np.repeat(names[a], 4), np.repeat(names[b], 4), np.tile(WINNERS, len(a)), columns.ravel())
    return comparisons, beta


def noise_floor(comparisons: Comparisons, beta: np.ndarray, tie: float | None, tie_rate: float) -> float:
    """The calibration MAE of the generating probabilities: what sampling noise alone leaves."""
    pairs = PairOutcomes.of(comparisons)
    index = np.array([int(m.split("-")[1]) for m in comparisons.models])
    votes = pairs.won + pairs.tied + pairs.lost
    observed = np.column_stack([pairs.won, pairs.tied, pairs.lost]) / np.maximum(votes, 1)[:, None]
    truth = outcome_probabilities(beta[index], pairs.low, pairs.high, tie, tie_rate)
    return float(np.abs(truth - observed).mean(axis=1) @ votes / votes.sum())


def calibration_section(quick: bool) -> None:
    print("calibration: vote-weighted MAE of win/tie/loss rates per pair (expected-score MAE in brackets)")
    scenarios = [("ties from Rao–Kupper θ=1.6, 20 models", 20, 400_000, 1.6),
                 ("ties from Rao–Kupper θ=1.6, 60 models, few votes per pair", 60, 200_000, 1.6),
                 ("ties a constant 10 % (bench/leaderboard.py's way), 20 models", 20, 400_000, None)]
    for label, models, votes, tie in scenarios:
        rng = np.random.default_rng(11)
        votes = votes // 10 if quick else votes
        comparisons, beta = arena_counts(rng, rng.normal(0.0, 1.0, models), votes, tie=tie)
        ratings = compute_ratings(comparisons, tie_model="rao-kupper", rounds=0, ci_method="sandwich")
        assert ratings.ties is not None
        c = ratings.ties.calibration
        per_pair = votes / (models * (models - 1) / 2)
        print(f"  {label} ({votes:,} votes, ~{per_pair:.0f} per pair, pooled tie rate {c.pooled_tie_rate:.3f}): "
              f"BT {c.mae(c.bradley_terry):.4f} ({c.score_mae(c.bradley_terry):.4f}), "
              f"RK {c.mae(c.rao_kupper):.4f} ({c.score_mae(c.rao_kupper):.4f}), "
              f"noise floor {noise_floor(comparisons, beta, tie, 0.1):.4f}; θ = {ratings.ties.theta:.3f} "
              f"[{ratings.ties.theta_low:.3f}, {ratings.ties.theta_high:.3f}]")


def coverage(models: int, votes: int, reps: int, tie_model: str, ci_method: str, rounds: int) -> tuple[float, float, float]:
    """(simultaneous all covered, per-model all covered, per-model one at a time) over *reps* seeded arenas."""
    rng = np.random.default_rng(2024)
    beta = np.linspace(1.0, -1.0, models)
    tie = 1.6 if tie_model == "rao-kupper" else None
    truth = {f"model-{i:03d}": 1000 + SCALE * (t - beta.mean()) for i, t in enumerate(beta)}
    joint = every = each = 0.0
    for _ in range(reps):
        comparisons, _ = arena_counts(rng, beta, votes, tie=tie, tie_rate=0.0)
        rows = compute_ratings(comparisons, tie_model=tie_model, ci_method=ci_method, rounds=rounds, simultaneous=True).rows
        joint += all(r.simultaneous_low <= truth[r.model] <= r.simultaneous_high for r in rows)  # type: ignore[operator]
        inside = [r.ci_low <= truth[r.model] <= r.ci_high for r in rows]
        every += all(inside)
        each += float(np.mean(inside))
    return joint / reps, every / reps, each / reps


def coverage_section(quick: bool) -> None:
    print("coverage of the true scores (share of arenas in which all models are covered at once):")
    cases = [(6, 1_200, 300, "bt", "sandwich", 0), (6, 1_200, 300, "rao-kupper", "sandwich", 0),
             (20, 20_000, 200, "bt", "sandwich", 0), (6, 1_200, 100, "bt", "bootstrap", 100)]
    for models, votes, reps, tie_model, ci_method, rounds in cases:
        reps = max(reps // 5, 20) if quick else reps
        started = time.perf_counter()
        joint, every, each = coverage(models, votes, reps, tie_model, ci_method, rounds)
        print(f"  {models} models, {votes:,} votes, {tie_model}, {ci_method}, {reps} arenas: simultaneous {joint:.3f}, "
              f"per-model {every:.3f} (each model alone {each:.3f}) [{time.perf_counter() - started:.1f} s]")


def timed(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def cost_section(quick: bool) -> None:
    models, votes = (50, 380_000) if quick else (200, 3_800_000)
    rng = np.random.default_rng(0)
    popularity = rng.uniform(0.7, 1.3, models)
    comparisons, _ = arena_counts(rng, rng.normal(0.0, 1.0, models), votes, tie=None, tie_rate=0.1, popularity=popularity)
    print(f"cost at {models} models, {int(comparisons.count.sum()):,} votes, {len(comparisons.count):,} cells (median of 3):")
    bt_s, _ = timed(lambda: compute_ratings(comparisons))
    fit_s, fit = timed(lambda: fit_rao_kupper(comparisons))
    pairs = PairOutcomes.of(comparisons)
    sandwich_s, _ = timed(lambda: rao_kupper_sandwich(pairs, fit))
    boot_s, _ = timed(lambda: rao_kupper_bootstrap(comparisons, fit, rounds=100))
    rk_s, _ = timed(lambda: compute_ratings(comparisons, tie_model="rao-kupper"))
    sim_s, _ = timed(lambda: compute_ratings(comparisons, simultaneous=True))
    print(f"  bt board {bt_s:.3f} s; rao-kupper fit {fit_s:.3f} s, sandwich {sandwich_s:.3f} s, 100-round bootstrap {boot_s:.3f} s, "
          f"whole board {rk_s:.3f} s; bt board with simultaneous intervals {sim_s:.3f} s ({sim_s - bt_s:+.3f} s)")
    print(f"rao-kupper board {models} models {int(comparisons.count.sum())} votes: {rk_s:.2f} s (bt board {bt_s:.2f} s) ratio {rk_s / bt_s:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller arenas and fewer repetitions")
    args = parser.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):  # as LeaderboardService computes: small matrices, two threads of its own
        calibration_section(args.quick)
        coverage_section(args.quick)
        cost_section(args.quick)


if __name__ == "__main__":
    main()
