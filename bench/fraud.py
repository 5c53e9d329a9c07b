"""Planted attackers in simulated arenas: how well the suspicious-voter tests find them, and what the filter saves.

    nice .venv/bin/python bench/fraud.py [--quick] [--arenas 20:100000,100:200000] [--seeds 3] [--levels 0,1,2,5,10]

Each arena has known strengths (the models spread evenly over 417 points,
22 apart with 20 models and 4 with 100, plus a little jitter) and honest
voters who differ as people do: how closely they follow the strengths (β,
lognormal around 1), a slight preference for one side, their own tie rate and
a small taste of their own for each model; most cast a few votes, about one
in eighty casts 50 or more. Attackers cast the given share of all
votes, in accounts of 20 to 300 votes: a quarter random voters, a quarter who
always vote against the favourite (the stronger model on the public
board), and half an "omnipresent" campaign for one target (ranked 8th):
when the target is in the battle and recognised (90 %), the campaign votes
for it; otherwise it votes against the target's close competitors (the four
ranked just above it and the two just below) whenever one is in the battle,
and honestly elsewhere, to blend in.

For each method, seeds pooled per level: precision (share of flagged voters
who are attackers), recall among attackers with 50+ votes (per kind, and
all), and the target's rank and score on a Bradley–Terry fit (ties half a
win, as the leaderboard) of honest votes only, all votes, and all votes minus
the flagged voters'. The shift is how far the target climbed against the
honest-only board. The "aim" lines compare the first method's figures with
the issue's aims (precision ≥ 0.9 at recall ≥ 0.6, shift cut by half), and
at 0 % count the honest voters flagged when there is nobody to find.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from scipy.special import expit

from arena.ratings import SCALE, fit_bradley_terry
from arena.suspicion import A_WON, B_WON, TIE, SuspicionConfig, VoterVotes, detect

KINDS = ("honest", "random", "anti-favourite", "campaign")
TARGET_RANK = 8             # 1-based rank of the campaign's target
COMPETITORS = (4, 2)        # models just above and just below the target that the campaign pulls down
RECOGNISED = 0.9


@dataclass
class Simulated:
    votes: VoterVotes
    kind: np.ndarray         # per voter code: index into KINDS
    theta: np.ndarray        # true logits
    target: int


def _honest_counts(rng: np.random.Generator, budget: int) -> np.ndarray:
    counts = np.clip(np.round(rng.lognormal(1.0, 1.3, size=budget)), 1, 2000).astype(np.int64)
    return counts[: np.searchsorted(np.cumsum(counts), budget) + 1]


def _attacker_counts(rng: np.random.Generator, budget: int) -> np.ndarray:
    counts: list[int] = []
    while sum(counts) < budget:
        counts.append(int(np.exp(rng.uniform(np.log(20), np.log(300)))))
    return np.array(counts, dtype=np.int64)


def _pairs(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, k, n)
    return a, (a + rng.integers(1, k, n)) % k


def _honest_outcomes(rng: np.random.Generator, theta: np.ndarray, a: np.ndarray, b: np.ndarray, beta: np.ndarray,
                     side: np.ndarray, tie: np.ndarray, taste: np.ndarray) -> np.ndarray:
    """Outcomes of honest votes with per-vote traits of their voters (taste: per vote, taste of a minus taste of b)."""
    p_a = expit(beta * (theta[a] - theta[b]) + taste + side)
    u = rng.random(len(a))
    return np.where(rng.random(len(a)) < tie, TIE, np.where(u < p_a, A_WON, B_WON)).astype(np.int8)


def _campaign_outcomes(rng: np.random.Generator, theta: np.ndarray, target: int, a: np.ndarray, b: np.ndarray,
                       honest: np.ndarray) -> np.ndarray:
    order = np.argsort(-theta)
    position = int(np.flatnonzero(order == target)[0])
    rivals = np.zeros(len(theta), dtype=bool)
    rivals[order[max(position - COMPETITORS[0], 0):position]] = True
    rivals[order[position + 1:position + 1 + COMPETITORS[1]]] = True
    seen = rng.random(len(a)) < RECOGNISED
    out = honest.copy()
    both = rivals[a] & rivals[b]
    out[both] = np.where(theta[a[both]] < theta[b[both]], A_WON, B_WON)  # pull the stronger rival down
    out[rivals[a] & ~rivals[b]] = B_WON
    out[rivals[b] & ~rivals[a]] = A_WON
    out[seen & (a == target)] = A_WON
    out[seen & (b == target)] = B_WON
    return out.astype(np.int8)


def simulate(seed: int, votes: int, models: int, attack_share: float) -> Simulated:
    """One arena: honest voters plus attackers casting *attack_share* of the votes, all interleaved at random."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(1.2, -1.2, models) + rng.normal(0, 0.03, models)
    target = int(np.argsort(-theta)[TARGET_RANK - 1])
    budget = int(round(votes * attack_share))
    honest = _honest_counts(rng, votes - budget)
    attack = [_attacker_counts(rng, share) for share in (budget // 4, budget // 4, budget - 2 * (budget // 4))] if budget else []
    counts = np.concatenate([honest, *attack]) if attack else honest
    kind = np.concatenate([np.zeros(len(honest), np.int64), *[np.full(len(c), i + 1) for i, c in enumerate(attack)]])
    voter = np.repeat(np.arange(len(counts)), counts)
    n = len(voter)
    a, b = _pairs(rng, n, models)
    beta = np.where(kind == 0, rng.lognormal(0.0, 0.25, len(counts)), 1.0)[voter]
    side = np.where(kind == 0, rng.normal(0, 0.1, len(counts)), 0.0)[voter]
    tie = np.where(kind == 0, rng.beta(3, 7, len(counts)), 0.3)[voter]
    taste_table = rng.normal(0, 0.15, (len(counts), models)) * (kind == 0)[:, None]
    outcome = _honest_outcomes(rng, theta, a, b, beta, side, tie, taste_table[voter, a] - taste_table[voter, b])
    vote_kind = kind[voter]
    coin = np.where(rng.random(n) < 0.3, TIE, np.where(rng.random(n) < 0.5, A_WON, B_WON)).astype(np.int8)
    outcome = np.where(vote_kind == 1, coin, outcome)
    outcome = np.where(vote_kind == 2, np.where(theta[a] < theta[b], A_WON, B_WON), outcome).astype(np.int8)
    campaign = vote_kind == 3
    outcome[campaign] = _campaign_outcomes(rng, theta, target, a[campaign], b[campaign], outcome[campaign])
    shuffle = rng.permutation(n)  # votes arrive interleaved; each voter's own order is kept by the stable sort later
    simulated = VoterVotes(voters=[str(i) for i in range(len(counts))], models=[f"m{i:02d}" for i in range(models)],
                           voter=voter[shuffle], a=a[shuffle], b=b[shuffle], outcome=outcome[shuffle])
    return Simulated(votes=simulated, kind=kind, theta=theta, target=target)


def board(votes: VoterVotes, keep: np.ndarray) -> np.ndarray:
    """Bradley–Terry logits of the kept votes, ties half a win each (as the leaderboard)."""
    k = votes.n_models
    a, b, outcome = votes.a[keep], votes.b[keep], votes.outcome[keep]
    score = np.select([outcome == A_WON, outcome == TIE], [1.0, 0.5], 0.0)
    wins = np.bincount(a * k + b, weights=score, minlength=k * k) + np.bincount(b * k + a, weights=1 - score, minlength=k * k)
    return fit_bradley_terry(wins.reshape(k, k))


def rank_of(theta: np.ndarray, model: int) -> int:
    return 1 + int(np.count_nonzero(theta > theta[model]))


@dataclass
class Tally:
    flagged: int = 0
    true_flags: int = 0
    heavy: np.ndarray | None = None        # attackers with 50+ votes, per kind
    heavy_found: np.ndarray | None = None
    shift_all: float = 0.0
    shift_filtered: float = 0.0
    points_all: float = 0.0
    points_filtered: float = 0.0
    seconds: float = 0.0
    runs: int = 0

    def add(self, sim: Simulated, flagged_codes: np.ndarray, seconds: float) -> None:
        votes = sim.votes
        counts = np.bincount(votes.voter, minlength=votes.n_voters)
        is_flagged = np.zeros(votes.n_voters, dtype=bool)
        is_flagged[flagged_codes] = True
        heavy = [(sim.kind == i) & (counts >= 50) for i in range(1, len(KINDS))]
        self.heavy = (self.heavy if self.heavy is not None else 0) + np.array([h.sum() for h in heavy])
        self.heavy_found = (self.heavy_found if self.heavy_found is not None else 0) + np.array([(h & is_flagged).sum() for h in heavy])
        self.flagged += int(is_flagged.sum())
        self.true_flags += int((is_flagged & (sim.kind > 0)).sum())
        honest = sim.kind[votes.voter] == 0
        clean, everything, filtered = board(votes, honest), board(votes, np.ones(len(votes), bool)), board(votes, ~is_flagged[votes.voter])
        t = sim.target
        self.shift_all += rank_of(clean, t) - rank_of(everything, t)
        self.shift_filtered += rank_of(clean, t) - rank_of(filtered, t)
        self.points_all += SCALE * ((everything[t] - everything.mean()) - (clean[t] - clean.mean()))
        self.points_filtered += SCALE * ((filtered[t] - filtered.mean()) - (clean[t] - clean.mean()))
        self.seconds += seconds
        self.runs += 1

    def row(self, level: float, method: str) -> str:
        assert self.heavy is not None and self.heavy_found is not None
        precision = f"{self.true_flags / self.flagged:.3f}" if self.flagged else "—"
        recall = f"{self.heavy_found.sum() / self.heavy.sum():.3f}" if self.heavy.sum() else "—"
        per_kind = " ".join(f"{f}/{h}" for f, h in zip(self.heavy_found, self.heavy))
        r = self.runs
        return (f"{level:>5.0%}  {method:<9} {self.flagged:>7} {precision:>9} {recall:>7}  {per_kind:<18}"
                f" {self.shift_all / r:>+6.2f} {self.shift_filtered / r:>+6.2f}  {self.points_all / r:>+7.1f} {self.points_filtered / r:>+7.1f}"
                f" {self.seconds / r:>6.2f}")

    def precision(self) -> float:
        return self.true_flags / self.flagged if self.flagged else float("nan")

    def recall(self) -> float:
        assert self.heavy is not None and self.heavy_found is not None
        return float(self.heavy_found.sum() / max(self.heavy.sum(), 1))


def run_arena(models: int, votes: int, seeds: int, levels: list[float], methods: list[str]) -> dict[tuple[float, str], Tally]:
    """Every level and method on *seeds* simulated arenas of this size; prints a row per (level, method)."""
    print(f"\n{votes:,} votes, {models} models, seeds 0..{seeds - 1} pooled per level; target ranked {TARGET_RANK}")
    print(f"{'level':>5}  {'method':<9} {'flagged':>7} {'precision':>9} {'recall':>7}  {'per kind':<18} {'all':>6} {'filter':>6}"
          f"  {'pts all':>7} {'filter':>7} {'s':>6}")
    summary: dict[tuple[float, str], Tally] = {}
    for level in levels:
        tallies = {m: Tally() for m in methods}
        for seed in range(seeds):
            sim = simulate(seed, votes, models, level)
            for method in methods:
                started = time.perf_counter()
                report = detect(sim.votes, SuspicionConfig(method=method))
                seconds = time.perf_counter() - started
                tallies[method].add(sim, np.array([int(v) for v in report.flagged_voters], dtype=np.int64), seconds)
        for method in methods:
            print(tallies[method].row(level, method), flush=True)
            summary[(level, method)] = tallies[method]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: one 20-model arena of 20,000 votes, one seed, two levels")
    parser.add_argument("--arenas", default="20:100000,100:200000", help="models:votes of each simulated arena")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--levels", default="0,1,2,5,10", help="attackers' share of the votes, in per cent (0: honest voters only)")
    parser.add_argument("--methods", default="robust,paper,surprise", help="the first is the one checked against the aims")
    args = parser.parse_args()
    if args.quick:
        args.arenas, args.seeds, args.levels = "20:20000", 1, "0,2,10"
    levels = [float(x) / 100 for x in args.levels.split(",")]
    methods = args.methods.split(",")
    print("recall per kind: found/attackers with 50+ votes (random, anti-favourite, campaign); all/filter: ranks the target"
          " climbed, pts: points it gained, against the honest-only board, with every vote and without the flagged voters';"
          " s: seconds per detection")
    started = time.perf_counter()
    for arena in args.arenas.split(","):
        models, votes = (int(x) for x in arena.split(":"))
        _verdict(run_arena(models, votes, args.seeds, levels, methods), levels, methods[0], models)
    print(f"total {time.perf_counter() - started:.0f} s")


def _verdict(summary: dict[tuple[float, str], Tally], levels: list[float], method: str, models: int) -> None:
    for level in levels:
        t = summary[(level, method)]
        if level == 0:
            print(f"aim, {models} models, no attackers ({method}): {t.flagged} honest voters flagged in {t.runs} arenas")
            continue
        cut = f"{1 - t.shift_filtered / t.shift_all:.0%}" if t.shift_all > 0 else "n/a (no shift)"
        points = f"{1 - t.points_filtered / t.points_all:.0%}" if t.points_all > 0 else "n/a (no gain)"
        print(f"aim, {models} models, {level:.0%} ({method}): precision {t.precision():.3f} (≥ 0.9), recall {t.recall():.3f}"
              f" (≥ 0.6), rank shift cut by {cut}, points gained cut by {points} (≥ 50 %)")


if __name__ == "__main__":
    main()
