"""Load benchmark: simulated voters playing full battles through the real app over HTTP.

    .venv/bin/python bench/load.py                       # N = 10, 50, 100 on SQLite and PostgreSQL
    .venv/bin/python bench/load.py --voters 50 --databases sqlite --duration 10

Setup, each part in its own process: ``bench/token_server.py`` streams every
answer at a set rate (the model costs time, not CPU), ``app.py`` serves the
arena on 127.0.0.1 with two models on that server, and this process runs N
voters as asyncio tasks speaking Gradio's queue protocol (``tests/gradio_http``,
one session per voter). Each voter loads the page (its first event, during the
warm-up), then loops: send a prompt and wait for both answers, read for
``--read-s``, vote, start a new round, pause ``--pause-s`` (or longer, to start
battles no more often than ``--battle-every`` seconds).

Reported per database and N:
* throughput: voted battles per second;
* vote acknowledgement latency, p50 and p99: from sending the vote to the
  event's completion, which the app sends only after the vote's transaction
  committed;
* time to first token added by the arena: the median time from sending a
  prompt until the first token appears in the app's event stream, minus the
  median time to first token of the same server called directly by N clients
  with the same rhythm (the baseline, measured in the same run);
* errors: failed events, HTTP errors, votes not acknowledged;
* the pace (battles per voter per hour, against the arena's default limit,
  ``ARENA_BATTLES_PER_HOUR``) and how many battles were answering at once on average: the load
  behind "N voters" and "N concurrent battles";
* CPU while measuring, in cores, of the app (all its instances), the token
  server and this process, and the app's CPU per voted battle: the machine's
  budget, and a figure that moves less from run to run than latencies do.

``--instances P`` starts P app processes on one database (one after the
other: the first creates the tables) and keeps voter i on instance i mod P, as
a load balancer with sticky sessions would (``docs/deployment.md``).

Targets on 2 cores: at 100 voters, vote p99 <= 50 ms and zero errors; at 50
concurrent battles, added time to first token <= 30 ms at p50. The last lines
printed are the summary; README's Performance section records them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena.responsiveness import remember_missing_modules  # noqa: E402
from arena.settings import Settings  # noqa: E402
from bench.token_server import FIRST  # noqa: E402
from tests.gradio_http import AppConfig, Session  # noqa: E402
from tests.upstream import free_port  # noqa: E402

POSTGRES_URL = os.environ.get("ARENA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MODELS_YAML = """models:
  - name: Bench-A
    backend: openai
    endpoints: ["{url}"]
    model: tok-a
  - name: Bench-B
    backend: openai
    endpoints: ["{url}"]
    model: tok-b
"""


def wait_http(url: str, process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start within {timeout:.0f} s")


def progress(message: str) -> None:
    """A phase's start, on stderr: the figures come only at the end of each level."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Stats:
    battles: int = 0
    answering_s: float = 0.0  # summed time from sending a prompt until both answers were in (measured battles)
    ttft: list[float] = field(default_factory=list)
    vote_ack: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    loop_lag: list[float] = field(default_factory=list)
    app_health: dict[str, dict[float, float]] = field(default_factory=dict)  # histogram buckets over the measurement


def stagger_s(args: argparse.Namespace) -> float:
    """Over how many seconds the clients' first battles are spread: a battle's period, or an answer's length."""
    return max(1.0, args.battle_every, args.tokens / args.rate)


def next_battle_in(began: float, until: float, pause_s: float, battle_every: float) -> float:
    """Seconds to wait before the next battle: *pause_s*, or until *battle_every* after the last one began;
    never past the end of the run (a trailing nap would count as measured time)."""
    now = time.monotonic()
    return min(max(pause_s, battle_every - (now - began)), max(0.0, until - now))


async def voter(config: AppConfig, client: httpx.AsyncClient, stats: Stats, until: float, args: argparse.Namespace,
                measuring: list[bool], seed: int) -> None:
    rng = random.Random(seed)
    session = Session(client, config)
    await asyncio.sleep(rng.uniform(0, stagger_s(args)))  # start spread out, not in step
    # The page load: Gradio builds a session's server-side state on its first event (tens of milliseconds of CPU
    # per visitor). A voter has loaded the page before the first battle, so this happens during the warm-up.
    await session.call("battle_new_round")
    while time.monotonic() < until:
        step = "send"
        began = time.monotonic()
        try:
            reply = await session.call("battle_send", f"Question {uuid.uuid4().hex[:8]}: tell me something.")
            first = reply.first_time(FIRST)
            if not reply.success or first is None:
                stats.errors.append(f"send: {reply.status} {reply.text()[-200:]}")
                session = Session(client, config)
                continue
            await asyncio.sleep(args.read_s)
            step = "vote"
            vote = await session.call(rng.choice(["battle_vote_model_a", "battle_vote_model_b", "battle_vote_tie"]))
            done = vote.completed
            recorded = vote.success and "Your vote was recorded" in vote.text()
            if not recorded or done is None:
                stats.errors.append(f"vote: {vote.status} {vote.text()[-200:]}")
            elif measuring[0]:
                stats.battles += 1
                stats.answering_s += reply.messages[-1][0]
                stats.ttft.append(first)
                stats.vote_ack.append(vote.messages[-1][0])
            step = "new round"
            await session.call("battle_new_round")
            await asyncio.sleep(next_battle_in(began, until, args.pause_s, args.battle_every))
        except (httpx.HTTPError, asyncio.TimeoutError) as exc:
            stats.errors.append(f"{step}: {type(exc).__name__}: {exc!r}")
            session = Session(client, config)


async def direct_client(url: str, model: str, client: httpx.AsyncClient, ttft: list[float], until: float,
                        args: argparse.Namespace, measuring: list[bool], seed: int) -> None:
    """The baseline: the same rhythm against the token server itself (two answers per 'battle', as the arena asks)."""
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, stagger_s(args)))
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}

    async def one() -> float | None:
        started = time.perf_counter()
        first = None
        async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if first is None and FIRST in line:
                    first = time.perf_counter() - started
        return first

    while time.monotonic() < until:
        began = time.monotonic()
        try:
            firsts = await asyncio.gather(one(), one())
        except httpx.HTTPError:  # the token server dropped a connection under load: not the arena's doing
            continue
        if measuring[0] and firsts[0] is not None:
            ttft.append(firsts[0])
        await asyncio.sleep(next_battle_in(began, until, args.read_s + args.pause_s, args.battle_every))


def cpu_seconds(pid: int, *, descendants: bool = True) -> float:
    """CPU time (user + system) a process and its living descendants have used so far, from /proc (Linux).

    Descendants count: the app detects languages in a helper process of its own.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                    for child in (task / "children").read_text().split()] if descendants else []
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + sum(map(cpu_seconds, children))


async def run_level(app_urls: list[str], upstream_url: str, n: int, args: argparse.Namespace,
                    pids: dict[str, list[int]]) -> tuple[Stats, list[float], float, dict[str, float]]:
    # One HTTP client per simulated person, as each browser has its own connections. A single shared client is
    # no good here: httpcore's pool does work proportional to its connections for every request it assigns, and
    # with a few hundred connections that alone took a whole core (the direct baseline then waited 3 s for a token).
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None)))
                   for _ in range(n)]  # uncapped: see encode/httpcore#1093
        configs = [await AppConfig.fetch(clients[0], url) for url in app_urls]
        # Baseline first: N direct clients, same rhythm.
        baseline: list[float] = []
        if not args.skip_direct:
            progress(f"N={n}: the token server called directly, {args.warmup + args.duration:.0f} s")
            measuring = [False]
            until = time.monotonic() + args.warmup + args.duration
            tasks = [asyncio.create_task(direct_client(upstream_url, "tok-a", clients[i], baseline, until, args, measuring, i))
                     for i in range(n)]
            await asyncio.sleep(args.warmup)
            measuring[0] = True
            await asyncio.gather(*tasks)
        # The arena: N voters.
        progress(f"N={n}: {n} voters load the page and warm up for {args.warmup:.0f} s")
        stats = Stats()
        measuring = [False]
        until = time.monotonic() + args.warmup + args.duration
        # Voter i stays on instance i mod P, as a load balancer with sticky sessions would keep it.
        tasks = [asyncio.create_task(voter(configs[i % len(configs)], clients[i], stats, until, args, measuring, i))
                 for i in range(n)]
        await asyncio.sleep(args.warmup)
        measuring[0] = True
        progress(f"N={n}: measuring the arena for {args.duration:.0f} s")
        started = time.monotonic()
        def used() -> dict[str, float]:  # the voters are this process alone, not the servers it started
            return {name: sum(cpu_seconds(pid, descendants=name != "voters") for pid in group) for name, group in pids.items()}

        cpu_before = used()
        health_before = [await app_health(clients[0], url) for url in app_urls]
        lag_task = asyncio.create_task(loop_lag(stats.loop_lag))
        await asyncio.gather(*tasks)
        lag_task.cancel()
        cpu = {name: seconds - cpu_before[name] for name, seconds in used().items()}
        health_after = [await app_health(clients[0], url) for url in app_urls]
        for before, after in zip(health_before, health_after):
            for key, buckets in after.items():
                stats.app_health[key] = {bound: stats.app_health.get(key, {}).get(bound, 0.0) + count - before.get(key, {}).get(bound, 0.0)
                                         for bound, count in buckets.items()}
        return stats, baseline, time.monotonic() - started, cpu


async def app_health(client: httpx.AsyncClient, url: str) -> dict[str, dict[float, float]]:
    """Cumulative buckets of the app's event-loop lag and full-GC pause histograms, from its /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {"arena_event_loop_lag_seconds": "loop lag", "arena_gc_pause_seconds": "full GC"}
    found: dict[str, dict[float, float]] = {}
    for family in text_string_to_metric_families((await client.get(f"{url}/metrics")).text):
        for sample in family.samples:
            key = wanted.get(sample.name.removesuffix("_bucket")) if sample.name.endswith("_bucket") else None
            if key and (key != "full GC" or sample.labels.get("generation") == "2"):
                found.setdefault(key, {})[float(sample.labels["le"])] = sample.value
    return found


def bucket_quantile(buckets: dict[float, float], q: float) -> float:
    """The upper bound of the histogram bucket holding quantile *q* (cumulative *buckets*: bound -> count)."""
    ordered = sorted(buckets.items())
    total = ordered[-1][1] if ordered else 0
    return next((bound for bound, count in ordered if total and count >= q * total), float("nan"))


async def loop_lag(lags: list[float], every_s: float = 0.02) -> None:
    """How late this process's event loop wakes a sleeper: what the voters' own timings may be inflated by."""
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(every_s)
        lags.append(time.perf_counter() - asked - every_s)


def database_url(kind: str, folder: Path) -> tuple[str, callable]:  # type: ignore[valid-type]
    """A fresh database of *kind* and a function that removes it."""
    if kind == "sqlite":
        path = folder / f"load-{uuid.uuid4().hex[:8]}.sqlite3"
        return f"sqlite:///{path}", lambda: [p.unlink() for p in folder.glob(path.name + "*")]
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring starts")
    parser.add_argument("--read-s", type=float, default=1.0, help="a voter's reading time before voting")
    parser.add_argument("--pause-s", type=float, default=0.5, help="pause before the next battle")
    parser.add_argument("--battle-every", type=float, default=0.0,
                        help="a voter starts a battle at most this often, in seconds (30: the fastest pace the arena's "
                             "default ARENA_BATTLES_PER_HOUR of 120 admits); voters start spread over this period "
                             "(or an answer's length, if longer), so give --warmup as long")
    parser.add_argument("--rate", type=float, default=20.0, help="tokens per second from the model server")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per answer")
    parser.add_argument("--instances", type=int, default=1,
                        help="app processes sharing the database, each voter kept on one (as behind a sticky load balancer)")
    parser.add_argument("--app-root", type=Path, default=ROOT,
                        help="the checkout whose app.py is served (another commit's worktree, for a before/after in one sitting)")
    parser.add_argument("--skip-direct", action="store_true",
                        help="leave out the token server's direct baseline (no 'added first token'; for CPU comparisons)")
    parser.add_argument("--patches-off", default="",
                        help="framework patches to leave out, comma-separated (ARENA_PATCHES_OFF; arena/patches.py lists them)")
    args = parser.parse_args()
    remember_missing_modules()  # the voters' HTTP client (httpx) looks for sniffio on every request otherwise

    folder = ROOT / "bench" / ".data"
    folder.mkdir(parents=True, exist_ok=True)
    upstream_port = free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "bench" / "token_server.py"), "--port", str(upstream_port),
                                 "--rate", str(args.rate), "--tokens", str(args.tokens)])
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    models = folder / "load-models.yaml"
    models.write_text(MODELS_YAML.format(url=upstream_url))
    summary: list[str] = []
    try:
        wait_http(f"{upstream_url}/models", upstream, "the token server")
        for kind in args.databases:
            url, drop = database_url(kind, folder)
            env = {**os.environ, "ARENA_DATABASE_URL": url, "ARENA_MODELS_WATCH_INTERVAL": "0", "ARENA_LOG_LEVEL": "WARNING",
                   "ARENA_PROMPTS_PER_MINUTE": "1000000", "ARENA_VOTES_PER_MINUTE": "1000000", "ARENA_BATTLES_PER_HOUR": "1000000",
                   "ARENA_VOTES_PER_DAY": "1000000", "ARENA_MIN_VOTE_SECONDS": "0", "ARENA_MODERATION": "rules",
                   "ARENA_PATCHES_OFF": args.patches_off}
            apps: list[subprocess.Popen] = []
            urls: list[str] = []
            try:
                for _ in range(args.instances):  # one after the other: the first creates the database's tables
                    port = free_port()
                    apps.append(subprocess.Popen(
                        [sys.executable, str(args.app_root / "app.py"), "--models", str(models), "--host", "127.0.0.1",
                         "--port", str(port)],
                        cwd=args.app_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                    urls.append(f"http://127.0.0.1:{port}")
                    wait_http(urls[-1] + "/", apps[-1], "the app")
                for n in args.voters:
                    pids = {"app": [app.pid for app in apps], "token server": [upstream.pid], "voters": [os.getpid()]}
                    stats, baseline, seconds, cpu = asyncio.run(run_level(urls, upstream_url, n, args, pids))
                    direct = statistics.median(baseline) if baseline else float("nan")
                    arena = statistics.median(stats.ttft) if stats.ttft else float("nan")
                    instances = f" x{args.instances}" if args.instances > 1 else ""
                    line = (f"load {kind}{instances} N={n}: {stats.battles / seconds:.1f} battles/s, vote ack p50 "
                            f"{percentile(stats.vote_ack, 50) * 1000:.0f} ms p99 {percentile(stats.vote_ack, 99) * 1000:.0f} ms, "
                            f"first token p50 {arena * 1000:.0f} ms (direct {direct * 1000:.0f} ms, added "
                            f"{(arena - direct) * 1000:.0f} ms), errors {len(stats.errors)} [{stats.battles} battles]")
                    print(line, flush=True)
                    print(f"  pace: {stats.battles / seconds * 3600 / n:.0f} battles per voter per hour (the arena's default "
                          f"limit is {Settings.battles_per_hour}); battles answering at once: "
                          f"{stats.answering_s / seconds:.1f} on average", flush=True)
                    print("  CPU while measuring: " + ", ".join(
                        f"{name} {used / seconds:.2f} cores" for name, used in cpu.items())
                        + f"; app {cpu['app'] * 1000 / max(stats.battles, 1):.0f} ms per battle", flush=True)
                    print(f"  voters' event loop lag (inflates their timings): p50 {percentile(stats.loop_lag, 50) * 1000:.1f} ms,"
                          f" p99 {percentile(stats.loop_lag, 99) * 1000:.1f} ms", flush=True)
                    lag, collections = stats.app_health.get("loop lag", {}), stats.app_health.get("full GC", {})
                    print(f"  app's event loop lag (/metrics, bucket bounds): p50 <= {bucket_quantile(lag, 0.5) * 1000:g} ms, "
                          f"p99 <= {bucket_quantile(lag, 0.99) * 1000:g} ms; full garbage collections: "
                          f"{max(collections.values(), default=0):.0f}, longest <= {bucket_quantile(collections, 1.0) * 1000:g} ms",
                          flush=True)
                    for error in stats.errors[:3]:
                        print(f"  error: {error}", flush=True)
                    summary.append(line)
            finally:
                for app in apps:
                    app.terminate()
                for app in apps:
                    app.wait(timeout=30)
                drop()
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
    print("\nsummary (targets at 100 voters: vote p99 <= 50 ms, 0 errors; at 50: added first token <= 30 ms p50)")
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
