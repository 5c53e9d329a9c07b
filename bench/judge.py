"""The AI judges at work: judging throughput per kind, vote latency beside a faulty judge, the agreement report at 1M.

    .venv/bin/python bench/judge.py [--quick] [--section throughput|faults|report ...]

Three sections, each with a baseline measured in the same run:

throughput
    ``arena.judging.JudgingWorker`` over stored voted battles (SQLite in a
    temporary folder), battles judged per second for each judge kind (the
    ``longer`` rule, ``LlmJudge`` over the OpenAI-compatible backend,
    ``RewardJudge`` over ``/pooling``) at each concurrency, against a stub judge
    server (``bench/judge_stub.py``, in a process of its own, answering after
    ``--delay-ms``). Baseline: the stub's raw rate with plain httpx at the same
    requests in flight (one LLM reading is one streamed chat request, one
    reward reading two pooling requests; a battle is read in both orders), in
    battles per second; for the rule judge, which needs no server, the store's:
    the same claims, readings and saves in one plain loop. The ratio is the
    share of that capacity the worker reaches.
faults
    Vote acknowledge latency through ``VoteService.vote`` (the app's vote path:
    checks, rate limits, the shielded write, committed) while a background
    ``JudgingWorker`` (the app's concurrency, 1) judges a backlog with an LLM
    judge whose endpoint fails (HTTP 500), stalls (past the judge's timeout) or
    answers garbage; a healthy judge and no judging at all (the baseline) are
    measured too, the runs alternating in one process. p50 / p99 and their
    ratios to no judging, and what the worker stored meanwhile.
report
    The agreement report (``arena/judges/agreement.py``) on 1,000,000 synthetic
    judged battles of one judge, 20 models, 1000 bootstrap rounds: overall,
    per category and per model pair (the target: 2 s), against numpy index
    resampling and a naive Python-loop bootstrap (20,000 battles × 20 rounds,
    scaled up); then the app's own path after its store read: agreement, both
    boards and the style fit on ``JudgedColumns`` (``--no-records`` skips).

``--quick`` is a smoke run of every section (about half a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import numpy as np
from sqlalchemy import text

from arena.backends.base import GenerationStats, SamplingParams
from arena.backends.openai_compat import OpenAICompatBackend, Timeouts
from arena.battle import Battle, Limits
from arena.coded import Coded
from arena.domain import VoteFacts
from arena.guards import GuardPipeline
from arena.judge_kinds import LlmJudge, RewardJudge
from arena.judge_kinds.llm import judge_messages
from arena.judges import agreement_arrays, agreement_by_arrays
from arena.judges.agreement import battle_cells
from arena.judges.base import Judge, JudgeInput
from arena.judges.columns import JudgedColumns, agreement_of_columns
from arena.judges.goodhart import compare_judged
from arena.judges.rules import RuleJudge
from arena.judging import JudgingWorker, judge_input, result_from_readings
from arena.runtime import BattleRegistry, Runtime
from arena.settings import Settings
from arena.store import BattleRecord, Store
from arena.votes import VoteService

ROOT = Path(__file__).resolve().parent.parent
STUB_MODEL = "judge-stub"
PARAMS = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=64)
WORDS = "the answer depends on what you measure and how often you measure it".split()


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- the stub judge server and the stored battles ------------------------------------------------------------------

class Stub:
    """bench/judge_stub.py in a process of its own (its CPU apart from the worker's interpreter), stopped by pid."""

    def __init__(self, delay_ms: float, stall_s: float) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "judge_stub.py"), "--port", str(self.port),
                                         "--delay-ms", str(delay_ms), "--stall-s", str(stall_s)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"judge stub exited with code {self.process.returncode}")
            try:
                httpx.get(self.url + "/v1/models", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("judge stub did not start within 30 s")

    def mode(self, mode: str) -> None:
        httpx.post(self.url + "/mode", json={"mode": mode}, timeout=5).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def voted_records(n: int, seed: int = 0) -> list[BattleRecord]:
    """Voted battles with real transcripts: a question, two answers of 20-120 words, some with markdown."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    records = []
    for i in range(n):
        question = f"Question {i}: how should I measure {rng.choice(WORDS)}?"
        answers = []
        for _ in range(2):
            body = " ".join(rng.choices(WORDS, k=rng.randint(20, 120)))
            answers.append(f"## Answer\n- {body}" if rng.random() < 0.3 else body)
        conversations = [[{"role": "user", "content": question}, {"role": "assistant", "content": a}] for a in answers]
        facts = VoteFacts(model_a=f"m{i % 7}", model_b=f"m{(i + 3) % 7}", winner=rng.choice(["model_a", "model_b", "tie"]),
                          mode="anony", turns=1, language="en")
        records.append(BattleRecord(battle_id=f"{i:032x}", facts=facts, judge_hash=f"voter-{i % 50}",
                                    created_at=start + timedelta(seconds=i), conversation_a=conversations[0],
                                    conversation_b=conversations[1]))
    return records


def temp_store(voted: int) -> Store:
    store = Store(f"sqlite:///{tempfile.mkdtemp(prefix='bench-judge-')}/judge.sqlite3")
    store.insert_battles(voted_records(voted))
    return store


def llm_judge(name: str, stub: Stub, timeout_s: float) -> LlmJudge:
    backend = OpenAICompatBackend(STUB_MODEL, [stub.url + "/v1"], timeouts=Timeouts(connect=2.0, first_token=timeout_s * 2,
                                                                                     total=timeout_s * 4))
    return LlmJudge(name, backend, PARAMS, timeout_s=timeout_s)


async def close_judge(judge: Judge) -> None:
    await judge.aclose()
    if isinstance(judge, LlmJudge):
        await judge.backend.aclose()  # the judge leaves its backend to the pool; here the bench owns it


# --- throughput -----------------------------------------------------------------------------------------------------

@dataclass
class Run:
    judged: int
    seconds: float
    statuses: Counter

    @property
    def rate(self) -> float:
        return self.judged / self.seconds


def stored_counts(store: Store, judge: str) -> Counter:
    """The judge's rows that are no longer pending, by (status, reason): what the worker saved."""
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT status, invalid_reason, COUNT(*) FROM judgements WHERE judge = :j AND status <> 'pending' "
                                 "GROUP BY status, invalid_reason"), {"j": judge}).all()
    return Counter({(status, reason): count for status, reason, count in rows})


async def run_worker(store: Store, judge: Judge, concurrency: int, seconds: float) -> Run:
    """The worker over the whole backlog (a fresh judge name: every stored vote pending) for at most *seconds*."""
    await asyncio.to_thread(store.enqueue_judgements, judge.name, judge.kind)
    worker = JudgingWorker(store, [judge], concurrency=concurrency)
    task = asyncio.create_task(worker.run_once())
    started = time.perf_counter()
    await asyncio.wait([task], timeout=seconds)
    elapsed = time.perf_counter() - started
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    else:
        task.result()
    await asyncio.sleep(0.05)  # saves already in a worker thread when the task was cancelled land
    statuses: Counter = Counter()
    for (status, _reason), count in stored_counts(store, judge.name).items():
        statuses[status] += count
    return Run(sum(statuses.values()), elapsed, statuses)


async def raw_rate(send: Callable[[httpx.AsyncClient], Awaitable[None]], in_flight: int, seconds: float) -> float:
    """Requests per second with *in_flight* plain httpx loops (a client each), after one warm-up request per loop."""
    clients = [httpx.AsyncClient(timeout=30) for _ in range(in_flight)]
    done = 0

    async def loop(client: httpx.AsyncClient, deadline: float) -> None:
        nonlocal done
        await send(client)
        while time.perf_counter() < deadline:
            await send(client)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(c, started + seconds) for c in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return done / elapsed


def stub_senders(stub: Stub, item: JudgeInput) -> dict[str, Callable[[httpx.AsyncClient], Awaitable[None]]]:
    """One LLM reading's streamed chat request and one side's pooling request, as the judges send them."""
    chat = {"model": STUB_MODEL, "messages": judge_messages(item), "temperature": 0.0, "top_p": 1.0, "max_tokens": 64,
            "stream": True, "stream_options": {"include_usage": True}}
    pooling = {"model": STUB_MODEL, "messages": [*item.conversation, {"role": "assistant", "content": item.first}]}

    async def llm(client: httpx.AsyncClient) -> None:
        async with client.stream("POST", stub.url + "/v1/chat/completions", json=chat) as response:
            response.raise_for_status()
            async for _ in response.aiter_lines():
                pass

    async def reward(client: httpx.AsyncClient) -> None:
        (await client.post(stub.url + "/pooling", json=pooling)).raise_for_status()

    return {"llm": llm, "reward": reward}


async def store_baseline(store: Store, name: str, seconds: float) -> float:
    """Battles per second the store takes with nothing in between: claim a batch, read it with the rule, save each row.

    What bounds the rule judge is the store (one claim per batch, one save per battle), so its baseline is the
    same work done in one plain loop: no tasks, no semaphore, no worker threads.
    """
    store.enqueue_judgements(name, "rule")
    judge, done, after_id = RuleJudge(name, "longer"), 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        claimed = store.claim_judgements(name, 32, after_id=after_id)
        if not claimed:
            break
        after_id = claimed[-1].id
        for item in claimed:
            conversation, a, b = judge_input(item.transcript)
            ab, ba = await judge.read(JudgeInput(conversation, a, b)), await judge.read(JudgeInput(conversation, b, a))
            store.save_judgement(item.id, result_from_readings(ab, ba, 0.0))
            done += 1
    return done / (time.perf_counter() - started)


async def throughput(args: argparse.Namespace, stub: Stub) -> None:
    store = temp_store(args.voted)
    try:
        with store.engine.connect() as conn:
            sample = judge_input(conn.execute(text("SELECT transcript FROM votes ORDER BY id LIMIT 1")).scalar_one())
        senders = stub_senders(stub, JudgeInput(*sample))
        rows = []
        for kind in ("rule", "llm", "reward"):
            for concurrency in args.concurrency:
                name = f"{kind}-c{concurrency}"
                judge: Judge = (RuleJudge(name, "longer") if kind == "rule" else llm_judge(name, stub, 10.0) if kind == "llm"
                                else RewardJudge(name, [stub.url], STUB_MODEL, timeout_s=10.0))
                progress(f"throughput: {name}")
                run = await run_worker(store, judge, concurrency, args.seconds)
                await close_judge(judge)
                if kind == "rule":
                    baseline = await store_baseline(store, f"rule-baseline-c{concurrency}", args.seconds)
                else:  # per battle: two readings; a reading is 1 chat request or 2 pooling requests (sent at once)
                    per_reading = 1 if kind == "llm" else 2
                    requests = await raw_rate(senders[kind], concurrency * per_reading, args.seconds)
                    baseline = requests / (2 * per_reading)
                rows.append((kind, concurrency, run, baseline))
        print_throughput(rows, args)
    finally:
        store.close()


def print_throughput(rows: list[tuple[str, int, Run, float]], args: argparse.Namespace) -> None:
    print(f"\n## Judging throughput ({args.voted:,} stored voted battles, SQLite; stub delay {args.delay_ms:g} ms; "
          f"{args.seconds:g} s per measurement)")
    print("| judge | concurrency | worker battles/s | baseline battles/s | ratio | stored |")
    print("|---|---|---|---|---|---|")
    for kind, concurrency, run, baseline in rows:
        stored = ", ".join(f"{status} {count}" for status, count in sorted(run.statuses.items()))
        print(f"| {kind} | {concurrency} | {run.rate:,.1f} | {baseline:,.1f} | {run.rate / baseline:.2f} | {stored} |")
    print("baseline: rule, the same claims, readings and saves in one plain loop; llm and reward, the stub's raw rate with plain "
          "httpx at the same requests in flight, per battle (2 chat or 4 pooling requests)")
    for kind in ("rule", "llm", "reward"):
        ratios = [run.rate / baseline for k, _, run, baseline in rows if k == kind]
        print(f"throughput {kind}: worker / baseline {min(ratios):.2f}-{max(ratios):.2f}x over concurrency "
              f"{', '.join(map(str, args.concurrency))}")


# --- vote latency beside a faulty judge ------------------------------------------------------------------------------

def unvoted_battles(store: Store, n: int) -> list[Battle]:
    """Finished, stored, not yet voted battles (as bench/votes.py prepares them), each of a voter of its own."""
    battles = []
    for i in range(n):
        battle = Battle.start("anony", ["m1", "m2"], session_id="s", judge_hash=store.hash_judge(f"voter-{i}"))
        battle.begin_turn("a prompt for the benchmark", Limits())
        store.save_start(battle)
        for name in battle.sides:
            battle.append(name, f"answer of {name}: " + " ".join(WORDS))
            battle.finish_side(name, GenerationStats(finish_reason="stop"))
        store.save_turn(battle, regenerated=False)
        battles.append(battle)
    return battles


async def cast_votes(votes: VoteService, battles: list[Battle], pause_s: float) -> list[float]:
    """Milliseconds per acknowledged vote, one voter after another with *pause_s* between votes."""
    latencies = []
    for battle in battles:
        started = time.perf_counter()
        await votes.vote(battle.id, "model_a", "s")
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(pause_s)
    return latencies


@dataclass
class FaultRun:
    latencies: list[float]
    stored: Counter  # (status, reason) -> rows the worker saved while it ran
    worker_s: float  # how long the worker ran


async def fault_run(store: Store, votes: VoteService, battles: list[Battle], judge: Judge | None,
                    args: argparse.Namespace) -> FaultRun:
    """The votes cast while *judge* (None: no judging) works through the backlog in the background."""
    task = None
    started = time.perf_counter()
    if judge is not None:
        await asyncio.to_thread(store.enqueue_judgements, judge.name, judge.kind)
        worker = JudgingWorker(store, [judge], concurrency=args.judge_concurrency, rate=args.judge_rate)
        task = asyncio.create_task(worker.run_once())
        await asyncio.sleep(args.warmup)  # the worker in full flow before the first vote
    latencies = await cast_votes(votes, battles, args.pause_ms / 1000)
    if task is None:
        return FaultRun(latencies, Counter(), 0.0)
    assert judge is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    worker_s = time.perf_counter() - started
    await asyncio.sleep(0.05)  # saves already in a worker thread when the task was cancelled land
    stored = stored_counts(store, judge.name)
    if sum(stored.values()) >= args.voted:
        progress(f"warning: {judge.name} judged its whole backlog before the votes ended; raise --voted")
    await close_judge(judge)
    return FaultRun(latencies, stored, worker_s)


FAULT_MODES = ("none", "fail", "stall", "garbage", "ok")


async def faults(args: argparse.Namespace, stub: Stub) -> None:
    store = temp_store(args.voted)
    try:
        needed = args.votes * args.rounds_faults * len(FAULT_MODES)
        progress(f"faults: preparing {needed:,} battles to vote on")
        battles = unvoted_battles(store, needed + 20)
        registry = BattleRegistry()
        for battle in battles:
            registry.add(Runtime(battle, specs={}, backends={}))
        settings = Settings(votes_per_minute=10**9, votes_per_day=10**9)
        votes = VoteService(store, GuardPipeline.from_settings(settings, []), registry, min_vote_seconds=0.0)
        await cast_votes(votes, battles[needed:], 0.0)  # warm-up: the vote path's first calls (language detector, caches)
        runs: dict[str, list[FaultRun]] = {mode: [] for mode in FAULT_MODES}
        chunks = iter([battles[i:i + args.votes] for i in range(0, needed, args.votes)])
        for round_ in range(args.rounds_faults):
            order = FAULT_MODES[round_ % len(FAULT_MODES):] + FAULT_MODES[:round_ % len(FAULT_MODES)]  # alternate the order too
            for mode in order:
                progress(f"faults: round {round_ + 1}, judge endpoint {mode}")
                judge = None
                if mode != "none":
                    stub.mode(mode)
                    judge = llm_judge(f"llm-{mode}-{round_}", stub, args.judge_timeout)
                runs[mode].append(await fault_run(store, votes, next(chunks), judge, args))
        print_faults(runs, args)
    finally:
        store.close()


def print_faults(runs: dict[str, list[FaultRun]], args: argparse.Namespace) -> None:
    print(f"\n## Vote latency beside a faulty judge ({args.rounds_faults} alternating rounds × {args.votes} votes per mode, "
          f"{args.pause_ms:g} ms between votes; background LLM judge at concurrency {args.judge_concurrency}, "
          f"{'unpaced' if args.judge_rate is None else f'at most {args.judge_rate:g} readings/s'}, "
          f"timeout {args.judge_timeout:g} s, stall {args.stall_s:g} s)")
    print("| judge endpoint | vote p50 | vote p99 | p50 ratio | p99 ratio | per round: p50, p99 | judged/s | stored meanwhile |")
    print("|---|---|---|---|---|---|---|---|")
    base = [ms for run in runs["none"] for ms in run.latencies]
    base_p50, base_p99 = statistics.median(base), percentile(base, 0.99)
    for mode, mode_runs in runs.items():
        values = [ms for run in mode_runs for ms in run.latencies]
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        saved = sum((run.stored for run in mode_runs), Counter())
        worker_s = sum(run.worker_s for run in mode_runs)
        rate = f"{sum(saved.values()) / worker_s:,.1f}" if worker_s else "–"
        stored = "; ".join(f"{count} {status}" + (f" ({reason})" if reason else "")
                           for (status, reason), count in saved.most_common(2)) or "none yet"
        rounds = " / ".join(f"{statistics.median(run.latencies):.1f}, {percentile(run.latencies, 0.99):.0f}" for run in mode_runs)
        print(f"| {'no judging (baseline)' if mode == 'none' else mode} | {p50:.2f} ms | {p99:.2f} ms | {p50 / base_p50:.2f} | "
              f"{p99 / base_p99:.2f} | {rounds} | {rate} | {stored} |")
    worst = max((percentile([ms for run in runs[m] for ms in run.latencies], 0.99) / base_p99, m)
                for m in ("fail", "stall", "garbage"))
    print(f"vote ack with a faulty judge: worst p99 ratio {worst[0]:.2f}x ({worst[1]}) against no judging "
          f"(p50 {base_p50:.2f} ms, p99 {base_p99:.2f} ms)")


# --- the agreement report at 1M ---------------------------------------------------------------------------------------

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


def time_columns(data: dict[str, np.ndarray], rounds: int, board_rounds: int) -> None:
    """The app's path after its store read: agreement, both boards and the style fit, on JudgedColumns at full size."""
    rng = np.random.default_rng(1)
    n = len(data["human"])
    names = [f"model-{i:02d}" for i in range(N_MODELS)]
    verdict = np.where(data["valid"], data["judge"], -1)
    length = rng.integers(50, 800, size=(2, n))
    columns = JudgedColumns(
        judge=Coded(np.zeros(n, dtype=np.int64), ["judge"]), model_a=Coded(data["model_a"], names), model_b=Coded(data["model_b"], names),
        human_winner=Coded(data["human"], ["model_a", "model_b", "tie"]), verdict=verdict, consistent=data["consistent"],
        style_a=np.stack([length[0], rng.integers(0, 4, n), rng.integers(0, 9, n), rng.integers(0, 6, n)], axis=1),
        style_b=np.stack([length[1], rng.integers(0, 4, n), rng.integers(0, 9, n), rng.integers(0, 6, n)], axis=1),
    )
    agreement_s = best_of(3, lambda: agreement_of_columns(columns, rounds=rounds))
    boards_s = best_of(3, lambda: compare_judged(columns, rounds=board_rounds))
    print(f"the app's report on columns (agreement_report after its read): agreement {agreement_s:.2f} s, boards with "
          f"{board_rounds} bootstrap rounds and the style fit {boards_s:.2f} s; total {agreement_s + boards_s:.2f} s (target 2 s)")


def report(args: argparse.Namespace) -> None:
    progress(f"report: {args.report_battles:,} synthetic judged battles")
    data = synthetic(args.report_battles)
    columns = (data["human"], data["judge"], data["consistent"], data["valid"])
    overall = best_of(3, lambda: agreement_arrays("judge", *columns, rounds=args.rounds))
    by_category = best_of(3, lambda: agreement_by_arrays("judge", data["category"], CATEGORIES, *columns, rounds=args.rounds))
    pair_labels = [f"{i} vs {j}" for i in range(N_MODELS) for j in range(N_MODELS)]  # codes i·20 + j; empty ones are skipped
    by_pair = best_of(3, lambda: agreement_by_arrays("judge", data["pair"], pair_labels, *columns, rounds=args.rounds))
    print(f"\n## Agreement report ({args.report_battles:,} judged battles, {args.rounds} bootstrap rounds)")
    print(f"agreement_arrays {overall:.3f} s, by category ({len(CATEGORIES)}) {by_category:.3f} s, "
          f"by model pair (190) {by_pair:.3f} s; all three {overall + by_category + by_pair:.3f} s (target 2 s)")
    print(agreement_arrays("judge", *columns, rounds=args.rounds))
    if args.records:
        time_columns(data, args.rounds, board_rounds=100)
    all_cells = battle_cells(*columns)
    indexed = best_of(1, lambda: index_resampling(all_cells, BASELINE_ROUNDS))
    print(f"numpy index resampling: {indexed:.2f} s for {BASELINE_ROUNDS} rounds of {args.report_battles:,}, "
          f"{indexed * args.rounds / BASELINE_ROUNDS:.1f} s scaled to {args.rounds} rounds")
    cells = all_cells[:BASELINE_BATTLES].tolist()
    baseline = best_of(1, lambda: naive_report(cells, BASELINE_ROUNDS))
    scaled = baseline * (args.report_battles / BASELINE_BATTLES) * (args.rounds / BASELINE_ROUNDS)
    print(f"naive Python loop: {baseline:.2f} s on {BASELINE_BATTLES:,} battles × {BASELINE_ROUNDS} rounds, "
          f"{scaled:,.0f} s scaled to {args.report_battles:,} × {args.rounds}")
    print(f"report ratio (naive scaled / agreement_arrays): {scaled / overall:,.0f}x")


# --- main ---------------------------------------------------------------------------------------------------------------

SECTIONS = ("throughput", "faults", "report")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, short measurements, one round")
    parser.add_argument("--section", action="append", choices=SECTIONS, help="only this section (repeatable; default: all)")
    parser.add_argument("--delay-ms", type=float, default=10.0, help="the stub judge's time per answer")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16], help="throughput: readings at once per judge")
    parser.add_argument("--seconds", type=float, default=None, help="throughput: seconds per measurement (default 1.5; quick 0.5)")
    parser.add_argument("--voted", type=int, default=None, help="stored voted battles, the judges' backlog (default 3000; quick 400)")
    parser.add_argument("--votes", type=int, default=None, help="faults: votes per run (default 200; quick 30)")
    parser.add_argument("--fault-rounds", type=int, default=None, help="faults: alternating rounds (default 3; quick 1)")
    parser.add_argument("--pause-ms", type=float, default=5.0, help="faults: pause between votes")
    parser.add_argument("--judge-concurrency", type=int, default=1, help="faults: the background worker's concurrency (the app's: 1)")
    parser.add_argument("--judge-rate", type=float, default=None, help="faults: the worker's readings per second (default: unpaced, as in the app)")
    parser.add_argument("--judge-timeout", type=float, default=1.0, help="faults: the LLM judge's timeout in seconds")
    parser.add_argument("--stall-s", type=float, default=30.0, help="faults: how long the stalled endpoint waits")
    parser.add_argument("--warmup", type=float, default=0.3, help="faults: seconds the worker runs before the first vote")
    parser.add_argument("--report-battles", type=int, default=None, help="report: judged battles (default 1,000,000; quick 100,000)")
    parser.add_argument("--bootstrap-rounds", dest="rounds", type=int, default=1000, help="report: bootstrap rounds")
    parser.add_argument("--no-records", dest="records", action="store_false", help="report: skip the dataclass API (0.5 GB at 1M)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.seconds = args.seconds or (0.5 if quick else 1.5)
    args.voted = args.voted or (400 if quick else 3000)
    args.votes = args.votes or (30 if quick else 200)
    args.rounds_faults = args.fault_rounds or (1 if quick else 3)
    args.report_battles = args.report_battles or (100_000 if quick else 1_000_000)
    args.records = args.records and not quick
    args.sections = args.section or list(SECTIONS)
    return args


async def run_sections(args: argparse.Namespace) -> None:
    needs_stub = {"throughput", "faults"} & set(args.sections)
    stub = Stub(args.delay_ms, args.stall_s) if needs_stub else None
    try:
        if stub is not None and "throughput" in args.sections:
            await throughput(args, stub)
        if stub is not None and "faults" in args.sections:
            await faults(args, stub)
    finally:
        if stub is not None:
            stub.stop()
    if "report" in args.sections:
        report(args)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.ERROR)  # the worker logs every failed reading as a warning: not what is measured
    args = parse_args(argv)
    print("$ .venv/bin/python bench/judge.py " + " ".join(sys.argv[1:] if argv is None else argv))
    asyncio.run(run_sections(args))


if __name__ == "__main__":
    main()
