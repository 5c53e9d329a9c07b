"""The judges' agreement report at scale: 1,000,000 synthetic judged battles of one judge, 20 models.

    .venv/bin/python bench/judge_report.py [--battles 1000000] [--rounds 1000] [--records]

Times ``agreement_arrays`` (the whole report with a 1000-round bootstrap) and
``agreement_by_arrays`` per category and per model pair, best of three, then
numpy index resampling (a ``bincount`` of n drawn indices per round) and
a naive baseline: the same report computed in plain Python, each bootstrap
round resampling battle indices one at a time, on 20,000 battles and 20 rounds,
scaled up linearly to the full size. ``--records`` also times the dataclass
API (``agreement`` on ``JudgedBattle`` records), building the records first.
The last line is the ratio of the baseline to the columnar report.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from arena.judges import JudgedBattle, JudgedVerdict, agreement, agreement_arrays, agreement_by_arrays
from arena.judges.agreement import battle_cells

CATEGORIES = ["overall", "coding", "math", "creative", "hard prompts"]
N_MODELS = 20
BASELINE_BATTLES, BASELINE_ROUNDS = 20_000, 20


def synthetic(battles: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Human and judge codes (a 0, b 1, tie 2): the judge agrees ~70 %, is consistent ~80 %, invalid ~2 %."""
    rng = np.random.default_rng(seed)
    model_a = rng.integers(0, N_MODELS, battles)
    model_b = (model_a + rng.integers(1, N_MODELS, battles)) % N_MODELS
    human = rng.choice(3, size=battles, p=[0.4, 0.4, 0.2])
    judge = np.where(rng.random(battles) < 0.7, human, rng.integers(0, 3, battles))
    consistent = rng.random(battles) < 0.8
    judge = np.where(consistent, judge, 2)  # an inconsistent battle is a tie
    pair = np.minimum(model_a, model_b) * N_MODELS + np.maximum(model_a, model_b)
    return {"model_a": model_a, "model_b": model_b, "human": human, "judge": judge, "consistent": consistent,
            "valid": rng.random(battles) >= 0.02, "category": rng.integers(0, len(CATEGORIES), battles), "pair": pair}


def best_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def naive_report(cells: list[int], rounds: int, seed: int = 0) -> list[list[float]]:
    """The baseline: per round, draw battle indices one by one in Python and tally the five rates by hand."""
    rng = random.Random(seed)
    n = len(cells)
    results = []
    for _ in range(rounds):
        tally = [0] * 19
        for _ in range(n):
            tally[cells[rng.randrange(n)]] += 1
        confusion = [[tally[h * 3 + j] + tally[9 + h * 3 + j] for j in range(3)] for h in range(3)]
        valid = sum(map(sum, confusion))
        matches = sum(confusion[k][k] for k in range(3))
        expected = sum(sum(confusion[k]) * sum(row[k] for row in confusion) for k in range(3)) / valid**2
        decisive = confusion[0][0] + confusion[0][1] + confusion[1][0] + confusion[1][1]
        results.append([tally[18] / n, (confusion[0][0] + confusion[1][1]) / decisive, matches / valid,
                        (matches / valid - expected) / (1 - expected), sum(tally[9:18]) / valid])
    return results


def index_resampling(cells: np.ndarray, rounds: int, seed: int = 0) -> np.ndarray:
    """Numpy without the multinomial shortcut: every round draws n battle indices and tallies their cells."""
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(cells[rng.integers(0, len(cells), len(cells))], minlength=19) for _ in range(rounds)])


def time_records(data: dict[str, np.ndarray], rounds: int) -> None:
    """The dataclass API at full size: building the records, then the report over them."""
    verdicts = {(j, c): JudgedVerdict(("a", "b", "tie")[j], bool(c)) for j in range(3) for c in (False, True)}
    invalid = JudgedVerdict.invalid("no verdict in the swapped order")
    winners = ("model_a", "model_b", "tie")
    names = [f"model-{i:02d}" for i in range(N_MODELS)]
    start = time.perf_counter()
    records = [
        JudgedBattle(str(i), names[a], names[b], winners[h], "judge", verdicts[(j, c)] if v else invalid)
        for i, (a, b, h, j, c, v) in enumerate(zip(data["model_a"].tolist(), data["model_b"].tolist(), data["human"].tolist(),
                                                     data["judge"].tolist(), data["consistent"].tolist(), data["valid"].tolist()))
    ]
    built = time.perf_counter() - start
    report = best_of(1, lambda: agreement(records, rounds=rounds))
    print(f"dataclass API: building {len(records):,} JudgedBattle records {built:.2f} s, agreement(records) {report:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--records", action="store_true", help="also time the dataclass API (about 0.5 GB at 1M battles)")
    args = parser.parse_args()
    data = synthetic(args.battles)
    columns = (data["human"], data["judge"], data["consistent"], data["valid"])
    report = best_of(3, lambda: agreement_arrays("judge", *columns, rounds=args.rounds))
    by_category = best_of(3, lambda: agreement_by_arrays("judge", data["category"], CATEGORIES, *columns, rounds=args.rounds))
    pair_labels = [f"{i} vs {j}" for i in range(N_MODELS) for j in range(N_MODELS)]  # codes i·20 + j; empty ones are skipped
    by_pair = best_of(3, lambda: agreement_by_arrays("judge", data["pair"], pair_labels, *columns, rounds=args.rounds))
    print(f"{args.battles:,} battles, {args.rounds} rounds: agreement_arrays {report:.3f} s, "
          f"by category ({len(CATEGORIES)}) {by_category:.3f} s, by model pair (190) {by_pair:.3f} s")
    print(agreement_arrays("judge", *columns, rounds=args.rounds))
    if args.records:
        time_records(data, args.rounds)
    all_cells = battle_cells(*columns)
    indexed = best_of(1, lambda: index_resampling(all_cells, BASELINE_ROUNDS))
    print(f"numpy index resampling: {indexed:.2f} s for {BASELINE_ROUNDS} rounds of {args.battles:,}, "
          f"{indexed * args.rounds / BASELINE_ROUNDS:.1f} s scaled to {args.rounds} rounds")
    cells = all_cells[:BASELINE_BATTLES].tolist()
    baseline = best_of(1, lambda: naive_report(cells, BASELINE_ROUNDS))
    scaled = baseline * (args.battles / BASELINE_BATTLES) * (args.rounds / BASELINE_ROUNDS)
    print(f"naive Python loop: {baseline:.2f} s on {BASELINE_BATTLES:,} battles × {BASELINE_ROUNDS} rounds, "
          f"{scaled:,.0f} s scaled to {args.battles:,} × {args.rounds}")
    print(f"ratio (naive scaled / agreement_arrays): {scaled / report:,.0f}x")


if __name__ == "__main__":
    main()
