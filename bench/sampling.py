"""Votes needed to reach a target interval width under uniform, weighted and active pairing, on simulated arenas.

    nice .venv/bin/python bench/sampling.py [--models 20,100] [--seeds 10] [--target 50] [--spread 1.0]
                                            [--floor 0.1] [--quick]

What it does, in one run, for each arena size:

1. **Strengths**: *models* Bradley–Terry logits drawn from N(0, spread²) with
   a seeded generator (one set per seed, shared by every policy). Voters
   answer by Bradley–Terry with the true strengths (no ties).
2. **Policies**, each run on the same arenas:
   ``uniform`` (every model weight 1: every pair equally likely),
   ``weighted`` (weights 0.5, 1, 1 and 2 spread over the models, drawn by
   ``arena.pairing``'s rule) and ``active`` (``pairing: sampling: active``,
   weights 1, the given floor) with each of its rules, ``paper`` (the
   default) and ``widest``. Active draws use the app's own code:
   ``arena.active_pairing.build_table`` on the fit's battle counts and
   predicted probabilities, then ``active_probabilities`` over the
   candidates, as ``arena.pair_policy`` does after each refresh.
3. **Refits as the app would**: votes arrive in batches (100 votes for 20
   models, 500 for 100, about the app's default ``refresh_votes``); after
   each batch the Bradley–Terry fit (``arena.ratings.fit_bradley_terry``) and
   the sandwich covariance (``sandwich_covariance``, the leaderboard's
   sandwich interval) are recomputed, the active table is rebuilt from the
   fit, and the run stops as soon as every model's 95 % score interval has a
   half-width ≤ *target* arena points (400/ln 10 per logit). Its vote count
   and the rank accuracy then (Kendall τ between fitted and true strengths,
   and the share of model pairs in the right order) are recorded.

Printed per arena: each policy's mean votes over the seeds, the mean of the
per-seed ratios to uniform, τ and the share of pairs in order at that point,
and τ after as many votes as uniform needed (same budget: does the policy
rank worse for the same votes?). The last line
sums up the active rules against uniform. A benchmark, not a test: nothing is
asserted. ``--quick`` (10 and 20 models, 2 seeds, a wide target) is a smoke run
of a few seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit
from scipy.stats import kendalltau
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arena.active_pairing import active_probabilities, build_table, weight_probabilities
from arena.pairing import Candidate
from arena.ratings import SCALE, Z95, Comparisons, contrast, fit_bradley_terry, sandwich_covariance

POLICIES = ("uniform", "weighted", "active (paper)", "active (widest)")
WEIGHTS = (0.5, 1.0, 1.0, 2.0)
MAX_VOTES_PER_MODEL = 20_000  # a run that has not reached the target by then is reported as not reaching it


@dataclass(frozen=True)
class Outcome:
    votes: int | None  # None: the target was not reached within MAX_VOTES_PER_MODEL × models
    tau: float  # at that point
    in_order: float
    tau_at_budget: float  # after as many votes as uniform needed on the same arena


def candidates_for(policy: str, n: int, rng: np.random.Generator) -> list[Candidate]:
    names = [f"m{i:03d}" for i in range(n)]
    if policy == "weighted":
        weights = rng.permutation(np.resize(np.array(WEIGHTS), n))
        return [Candidate(name, float(w)) for name, w in zip(names, weights)]
    return [Candidate(name, 1.0) for name in names]


def half_widths(wins: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The leaderboard's sandwich 95 % half-widths of the centred scores, in arena points."""
    n = len(wins)
    low, high = np.triu_indices(n, 1)
    cells = Comparisons([str(i) for i in range(n)], np.repeat(low, 2), np.repeat(high, 2), np.tile([1.0, 0.0], len(low)),
                        np.stack([wins[low, high], wins[high, low]], axis=1).ravel())
    centre = contrast(n, None)
    covariance = centre @ sandwich_covariance(cells, theta) @ centre.T
    return Z95 * SCALE * np.sqrt(np.clip(np.diag(covariance), 0.0, None))


def simulate(policy: str, strengths: np.ndarray, *, seed: int, target: float, batch: int, floor: float,
             budget: int | None = None) -> Outcome:
    """One arena under one policy until every score's half-width is at most *target* and *budget* votes are in."""
    n = len(strengths)
    rng = np.random.default_rng([seed, n, 1])
    candidates = candidates_for(policy, n, np.random.default_rng([seed, n, 2]))
    names, probabilities = weight_probabilities(candidates)  # names sorted = model index order
    low, high = np.triu_indices(n, 1)
    truth = expit(strengths[low] - strengths[high])
    wins = np.zeros((n, n))
    votes, reached, tau, tau_at_budget = 0, None, float("nan"), float("nan")
    while votes < MAX_VOTES_PER_MODEL * n:
        drawn = rng.multinomial(batch, probabilities[low, high] / probabilities[low, high].sum())
        won = rng.binomial(drawn, truth)
        wins[low, high] += won
        wins[high, low] += drawn - won
        votes += batch
        theta = fit_bradley_terry(wins)
        if reached is None and half_widths(wins, theta).max() <= target:
            reached, tau = votes, float(kendalltau(theta, strengths)[0])
        if budget is not None and votes == budget:
            tau_at_budget = float(kendalltau(theta, strengths)[0])
        if reached is not None and (budget is None or votes >= budget):
            return Outcome(reached, tau, (1.0 + tau) / 2.0, tau if budget is None else tau_at_budget)
        if policy.startswith("active"):
            predicted = expit(theta[:, None] - theta[None, :])
            np.fill_diagonal(predicted, np.nan)
            table = build_table(names, wins + wins.T, predicted, rule=policy.split("(")[1].rstrip(")"))
            if table is not None:
                probabilities = active_probabilities(candidates, table, floor)[1]
    return Outcome(None, float("nan"), float("nan"), tau_at_budget)


def run_arena(n: int, args: argparse.Namespace) -> dict[str, list[Outcome]]:
    batch = 100 if n <= 30 else 500
    print(f"\narena of {n} models, strengths N(0, {args.spread:g}²) logits, {args.seeds} seeds, refit every {batch} votes; "
          f"target: every score's 95 % half-width ≤ {args.target:g} points", flush=True)
    results: dict[str, list[Outcome]] = {p: [] for p in POLICIES}
    started = time.perf_counter()
    for seed in range(args.seeds):
        strengths = np.random.default_rng([seed, n, 0]).normal(0.0, args.spread, n)
        budget = None
        for policy in POLICIES:  # uniform first: its vote count is the others' budget for the last column
            outcome = simulate(policy, strengths, seed=seed, target=args.target, batch=batch, floor=args.floor, budget=budget)
            results[policy].append(outcome)
            budget = budget or outcome.votes
    print(f"{'policy':<18}{'votes (mean)':>14}{'vs uniform':>12}{'Kendall tau':>13}{'pairs in order':>16}"
          f"{'tau at uniform votes':>22}")
    for policy in POLICIES:
        print(format_row(policy, results[policy], results["uniform"]))
    print(f"({time.perf_counter() - started:.0f} s)", flush=True)
    return results


def ratio(outcomes: list[Outcome], baseline: list[Outcome]) -> float:
    """Mean over seeds of votes / uniform's votes on the same arena (nan if a run did not reach the target)."""
    pairs = [(o.votes, b.votes) for o, b in zip(outcomes, baseline)]
    if any(v is None or b is None for v, b in pairs):
        return float("nan")
    return float(np.mean([v / b for v, b in pairs if v is not None and b]))


def format_row(policy: str, outcomes: list[Outcome], baseline: list[Outcome]) -> str:
    reached = [o.votes for o in outcomes if o.votes is not None]
    votes = f"{np.mean(reached):,.0f}" if len(reached) == len(outcomes) else f"not reached ({len(outcomes) - len(reached)})"
    tau = np.mean([o.tau for o in outcomes])
    order = np.mean([o.in_order for o in outcomes])
    at_budget = np.mean([o.tau_at_budget for o in outcomes])
    return f"{policy:<18}{votes:>14}{ratio(outcomes, baseline):>11.2f}x{tau:>13.3f}{order:>15.1%}{at_budget:>22.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="20,100", help="arena sizes, comma-separated")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--target", type=float, default=50.0, help="largest 95 %% half-width allowed, arena points")
    parser.add_argument("--spread", type=float, default=1.0, help="standard deviation of the true logits")
    parser.add_argument("--floor", type=float, default=0.1, help="active pairing's floor (share of draws by the weights)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 and 20 models, 2 seeds, target 80")
    args = parser.parse_args()
    if args.quick:
        args.models, args.seeds, args.target = "10,20", 2, 80.0
    summary = []
    with threadpool_limits(limits=1):
        for n in (int(m) for m in args.models.split(",")):
            results = run_arena(n, args)
            ratios = ", ".join(f"{p.split('(')[1].rstrip(')')} {ratio(results[p], results['uniform']):.2f}x"
                               for p in POLICIES if p.startswith("active"))
            summary.append(f"{n} models: {ratios}")
    print("\nactive pairing votes vs uniform to the target: " + "; ".join(summary))


if __name__ == "__main__":
    main()
