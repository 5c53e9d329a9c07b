"""Vote acknowledge latency: Store.record_vote (one committed transaction) vs a bare INSERT.

    .venv/bin/python bench/votes.py [--votes 500] [--database-url URL]
    .venv/bin/python bench/votes.py --threads 6     # concurrent votes, as the app's worker threads cast them
    .venv/bin/python bench/votes.py --threads 3 --processes 2   # ...and as two app instances on one file cast them

Prints p50 / p99 in milliseconds for both, and the ratio of medians last.

With ``--threads T`` the votes are cast by T threads at once, and the
baseline is the same store without its per-process write turn
(``Store.writing``, ``arena/write_turn.py``): on SQLite, writers then meet
the file lock and wait in SQLite's busy handler. With ``--processes P`` as
many processes, each with its own store and T threads, vote at once. The
last line gives the ratio of the p99s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from arena.backends.base import GenerationStats
from arena.battle import Battle, Limits
from arena.service import vote_facts
from arena.store import Store


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def prepare(store: Store, n: int) -> list[Battle]:
    battles = []
    for i in range(n):
        battle = Battle.start("anony", ["m1", "m2"], session_id="s", judge_hash=store.hash_judge(f"judge-{i % 50}"))
        battle.begin_turn("bench prompt", Limits())
        store.save_start(battle)
        for name in battle.sides:
            battle.append(name, "answer")
            battle.finish_side(name, GenerationStats(finish_reason="stop"))
        store.save_turn(battle, regenerated=False)
        battles.append(battle)
    return battles


def concurrent_votes(store: Store, battles: list[Battle], threads: int) -> list[float]:
    """Milliseconds per vote, *battles* voted on by *threads* threads at once (each pausing 2 ms between votes)."""
    latencies: list[float] = []
    shares = [battles[i::threads] for i in range(threads)]

    def cast(share: list[Battle]) -> None:
        for battle in share:
            started = time.perf_counter()
            store.record_vote(battle.id, vote_facts(battle, "model_a"), battle.judge_hash, 1.0)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.002)  # the app does other work between votes

    workers = [threading.Thread(target=cast, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies


def votes_in_a_process(url: str, battles: list[Battle], threads: int, take_turns: bool) -> list[float]:
    """One process's share: its own store (as an app instance has), *threads* threads voting."""
    store = Store(url, migrate=False)
    if not take_turns:
        store._write_turn = contextlib.nullcontext()  # the baseline: every writer straight at the database
    try:
        return concurrent_votes(store, battles, threads)
    finally:
        store.close()


def votes_in_processes(url: str, battles: list[Battle], threads: int, processes: int, take_turns: bool) -> list[float]:
    if processes == 1:
        return votes_in_a_process(url, battles, threads, take_turns)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        shares = [pool.submit(votes_in_a_process, url, battles[i::processes], threads, take_turns) for i in range(processes)]
        return [ms for share in shares for ms in share.result()]


def main_concurrent(url: str, votes: int, threads: int, processes: int) -> None:
    store = Store(url)
    battles = prepare(store, 2 * votes)
    store.close()
    ours = votes_in_processes(url, battles[:votes], threads, processes, take_turns=True)
    baseline = votes_in_processes(url, battles[votes:], threads, processes, take_turns=False)
    dialect = url.split(":", 1)[0]
    for name, values in (("with the write turn", ours), ("without it (baseline)", baseline)):
        print(f"{name:22} p50 {statistics.median(values):.2f} ms  p99 {percentile(values, 0.99):.2f} ms  "
              f"max {max(values):.0f} ms  ({votes} votes, {processes} x {threads} threads, {dialect})")
    print(f"concurrent vote ack p99 {percentile(ours, 0.99):.2f} ms (baseline {percentile(baseline, 0.99):.2f} ms) "
          f"ratio {percentile(baseline, 0.99) / percentile(ours, 0.99):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--votes", type=int, default=500)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--threads", type=int, default=0, help="cast the votes from this many threads at once")
    parser.add_argument("--processes", type=int, default=1, help="with --threads: in this many processes, each with its own store")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    if args.threads:
        if not url.startswith("sqlite"):
            parser.error("--threads compares SQLite's per-process write turn; PostgreSQL has none (its rows lock, not its file)")
        main_concurrent(url, args.votes, args.threads, args.processes)
        return
    store = Store(url)
    battles = prepare(store, 2 * args.votes)
    ours, baseline = [], []
    judge_id = None
    for battle in battles[: args.votes]:
        started = time.perf_counter()
        store.record_vote(battle.id, vote_facts(battle, "model_a"), battle.judge_hash, 1.0)
        ours.append((time.perf_counter() - started) * 1000)
    with store.engine.connect() as conn:
        judge_id = conn.execute(text("SELECT MIN(id) FROM judges")).scalar()
    for battle in battles[args.votes :]:
        started = time.perf_counter()
        with store.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO votes (battle_id, winner, judge_id, time_to_vote_s, created_at) VALUES (:b, 'model_a', :j, 1.0, CURRENT_TIMESTAMP)"),
                {"b": battle.id, "j": judge_id},
            )
        baseline.append((time.perf_counter() - started) * 1000)
    store.close()
    dialect = url.split(":", 1)[0]
    print(f"record_vote  p50 {statistics.median(ours):.2f} ms  p99 {percentile(ours, 0.99):.2f} ms  ({args.votes} votes, {dialect})")
    print(f"bare INSERT  p50 {statistics.median(baseline):.2f} ms  p99 {percentile(baseline, 0.99):.2f} ms")
    print(f"vote ack {statistics.median(ours):.2f} ms (baseline {statistics.median(baseline):.2f} ms) ratio {statistics.median(ours) / statistics.median(baseline):.2f}x")


if __name__ == "__main__":
    main()
