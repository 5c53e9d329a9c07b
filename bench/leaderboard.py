"""Full leaderboard at Nectar size (200 models, 3.8 M votes) vs a FastChat-style compute_bt baseline.

    .venv/bin/python bench/leaderboard.py [--models 200] [--votes 3800000] [--database-url URL]
                                          [--rounds 100] [--baseline-rounds 100] [--fresh] [--quick]

What it does, in one run:

1. **Generates** *models* models and *votes* votes into the real schema (the
   store is built with ``Store(url)``, which migrates with Alembic), unless the
   database already holds a data set of exactly that size made by this script
   (a marker row in ``arena_meta``). Default database: a SQLite file under
   ``bench/.data/`` named after the size, kept between runs; ``--fresh``
   regenerates. Rows: ``judges`` (10k), ``battles`` (one per vote, status
   ``voted``) and ``votes`` (with every per-vote fact: models, mode, flags,
   turns, user tokens, language, style counts). ``conversations`` and
   ``messages`` are *not* generated: the leaderboard never reads transcripts
   (``votes`` is its complete input). Model strengths are N(0, 1) logits,
   pairs are mildly uneven (model popularity in [0.7, 1.3]), about 10 % of the
   votes are ties, and the winner also depends on the answers' style counts so
   that style control has something to find. ``Store.rebuild_vote_counts()``
   then fills ``vote_counts`` and online Elo is brought up to date, as
   ``import-battles`` does after a bulk load; their times are printed too. On SQLite the rows are
   written with ``sqlite3.executemany`` on the same file (bulk-load PRAGMAs);
   on other databases with SQLAlchemy Core ``insert(table)`` executemany (COPY on PostgreSQL).
2. **Cold**: a fresh interpreter runs ``Store(url, migrate=False)`` +
   ``LeaderboardService(store).compute(LeaderboardQuery())`` (imports timed
   separately, not included). Three times: as is (the OS file cache holds the
   database), on a store whose saved online-Elo state was deleted first (Elo
   replays every vote), and last after asking the kernel to drop the SQLite
   file's pages (``posix_fadvise(DONTNEED)``, best effort; SQLite only).
3. **Warm**: in this process, one ``compute()`` to warm up (online Elo reads
   every vote the first time, then only new ones), then the median of 3 more.
   **Cached**: ``get()`` on an unchanged store (one ``max(id)`` query).
   **Live**: on a copy of the store, ``get()`` after 100 new votes (three
   times; the headline), then the style-controlled ``get()`` first and after
   100 more votes (only the new votes are read).
4. **Style control**: the first ``compute(LeaderboardQuery(style_control=True))``
   in this process (per-vote rows, Newton fit, sandwich intervals).
5. **Baseline**, what FastChat's ``compute_bt`` + bootstrap do (own code): read
   every vote (model_a, model_b, winner) from the store, reduce to unique
   (model_a, model_b, outcome) rows with counts (``np.unique``), fit BT by
   minimising the weighted logistic loss with ``scipy.optimize.minimize``
   (L-BFGS-B, gradient by scatter-add over the one-hot rows, ties = target ½,
   i.e. half weight on each outcome), then *baseline-rounds* bootstrap refits,
   each on multinomial counts over the unique rows, from zeros. Timed end to end,
   read included. Where FastChat's way is needlessly slow, the baseline gets
   the faster variant, so the ratio is if anything understated: rows are read
   in chunks straight into integer-coded numpy columns (like a DataFrame's)
   with Python's cyclic GC paused during the read, and ``np.unique`` runs on
   one packed int64 key instead of ``axis=0`` rows. (FastChat also spreads
   the bootstrap refits over a process pool; this baseline runs them serially.)

Progress goes to stderr. The last line is
``leaderboard M models N votes: X.XX s (baseline Y.Y s) ratio Zx`` (warm time),
the line before summarises cold, cached and style control. A benchmark, not a
test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / "bench" / ".data"
MARKER_KEY = "bench_leaderboard"
DATA_FORMAT = 2  # bump when the generator changes, so cached files are regenerated
CHUNK = 50_000
JUDGES = 10_000
LANGUAGES = ["en", "zh", "ru", "de", "fr", "es", "ja", "ko", None]
LANGUAGE_P = [0.62, 0.10, 0.05, 0.04, 0.04, 0.04, 0.03, 0.02, 0.06]
STYLE_EFFECT = (0.8, 0.3, 0.2, 0.2)  # logit per unit of (a − b) / (a + b): length, headers, lists, bold
T0 = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """Peak resident set size of this process (getrusage; KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def own_peak_rss_mb() -> float:
    """Peak RSS of this process image only: after fork+exec, getrusage still reports the parent's peak on Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


def default_url(models: int, votes: int) -> str:
    return f"sqlite:///{DATA_DIR / f'leaderboard-{models}m-{votes}v.sqlite3'}"


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    database = url.split("///", 1)[-1]
    return None if database in ("", ":memory:") else Path(database)


# ------------------------------------------------------------------ generation
def marker_value(args: argparse.Namespace) -> str:
    return json.dumps({"format": DATA_FORMAT, "models": args.models, "votes": args.votes, "seed": args.seed}, sort_keys=True)


def existing_marker(store) -> str | None:  # noqa: ANN001 - arena.store.Store
    from arena.tables import ArenaMeta

    with store.session() as session:
        row = session.get(ArenaMeta, MARKER_KEY)
        return None if row is None else row.value


def prepare_store(args: argparse.Namespace):  # noqa: ANN201 - returns arena.store.Store
    """The store holding the requested data set: reused when its marker matches, generated otherwise."""
    from sqlalchemy import delete, select, text

    from arena.store import Store
    from arena.tables import ArenaMeta, Battle, Conversation, Judge, Message, Vote, VoteCount

    path = sqlite_path(args.database_url)
    if path is not None and args.fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    if path is not None and path.parent == DATA_DIR:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        ignore = DATA_DIR / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# benchmark databases (bench/leaderboard.py)\n*\n")

    started = time.perf_counter()
    store = Store(args.database_url)  # migrates with Alembic
    progress(f"Store({args.database_url}) with migrations: {time.perf_counter() - started:.2f} s")
    marker = existing_marker(store)
    if marker == marker_value(args) and store.votes_version() > 0 and store.categories():
        progress(f"reusing the cached data set ({args.models} models, {args.votes} votes); --fresh regenerates")
        with store.session() as session:
            row = session.get(ArenaMeta, MARKER_KEY + ":timings")
        timings = json.loads(row.value) if row is not None else {}
        return store, {**timings, "cached": True, "strength": true_strengths(args.models, args.seed)}
    if store.votes_version() > 0:
        if marker is None and not args.fresh:
            sys.exit(f"{args.database_url} holds votes that this benchmark did not generate; refusing to overwrite (pass --fresh to delete them)")
        progress("deleting the previous data set")
        with store.session() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":  # DELETE of judges would scan battles per judge (no FK index)
                session.execute(text("TRUNCATE vote_counts, messages, conversations, votes, battles, judges RESTART IDENTITY"))
            for table in (VoteCount, Message, Conversation, Vote, Battle, Judge):
                session.execute(delete(table))
            session.execute(delete(ArenaMeta).where(ArenaMeta.key.in_([MARKER_KEY, MARKER_KEY + ":timings"])))
            session.execute(delete(ArenaMeta).where(ArenaMeta.key.like("elo:%")))  # state of the deleted votes
    started = time.perf_counter()
    judge_hashes = [store.hash_judge(f"bench-judge-{i}") for i in range(JUDGES)]
    data = synthesize(args.models, args.votes, args.seed)
    progress(f"synthesized {args.votes} votes in memory: {time.perf_counter() - started:.1f} s")
    if path is not None:
        write_sqlite(store, path, data, judge_hashes)
    else:
        write_core(store, data, judge_hashes)
    insert_s = time.perf_counter() - started
    started = time.perf_counter()
    store.rebuild_vote_counts()
    rebuild_s = time.perf_counter() - started
    progress(f"rebuild_vote_counts: {rebuild_s:.1f} s")
    from arena.leaderboard import LeaderboardService

    started = time.perf_counter()
    LeaderboardService(store).elo_ratings()  # what import-battles does after a bulk load
    elo_s = time.perf_counter() - started
    progress(f"online Elo brought up to date (as import-battles does): {elo_s:.1f} s")
    with store.session() as session, session.begin():
        session.merge(ArenaMeta(key=MARKER_KEY, value=marker_value(args)))
        session.merge(ArenaMeta(key=MARKER_KEY + ":timings", value=json.dumps({"insert_s": insert_s, "rebuild_s": rebuild_s, "elo_s": elo_s})))
    if path is not None:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    with store.session() as session:
        stored = session.scalar(select(Vote.id).order_by(Vote.id.desc()).limit(1))
    progress(f"generation done: {stored} votes; synthesize + insert {insert_s:.1f} s + rebuild_vote_counts {rebuild_s:.1f} s")
    return store, {"insert_s": insert_s, "rebuild_s": rebuild_s, "elo_s": elo_s, "cached": False, "strength": data["strength"]}


def true_strengths(n_models: int, seed: int):  # noqa: ANN201 - numpy array
    """The generating logits (the first draw of :func:`synthesize`)."""
    import numpy as np

    return np.random.default_rng(seed).normal(0.0, 1.0, n_models)


def synthesize(n_models: int, n_votes: int, seed: int) -> dict:
    """Every per-vote column as a numpy array (vectorised; no rows yet)."""
    import numpy as np
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.0, n_models)
    verbosity = rng.normal(0.0, 0.35, n_models)   # log-length offset per model
    markdown = rng.normal(0.0, 0.5, n_models)     # markdown habit per model
    popularity = rng.uniform(0.7, 1.3, n_models)
    popularity /= popularity.sum()
    a = rng.choice(n_models, n_votes, p=popularity).astype(np.int32)
    b = rng.choice(n_models, n_votes, p=popularity).astype(np.int32)
    same = a == b
    while same.any():
        b[same] = rng.choice(n_models, int(same.sum()), p=popularity)
        same = a == b

    def style(model: np.ndarray) -> list[np.ndarray]:
        size = len(model)
        length = np.exp(6.0 + verbosity[model] + rng.normal(0.0, 0.6, size)).astype(np.int32) + 1
        rate = np.exp(markdown[model])
        return [length, rng.poisson(rate * 1.0).astype(np.int32), rng.poisson(rate * 3.0).astype(np.int32),
                rng.poisson(rate * 2.0).astype(np.int32)]

    style_a, style_b = style(a), style(b)
    eta = strength[a] - strength[b]
    for effect, xa, xb in zip(STYLE_EFFECT, style_a, style_b):
        total = (xa + xb).astype(float)
        eta += effect * np.divide(xa - xb, total, out=np.zeros(n_votes), where=total > 0)
    u = rng.random(n_votes)
    tie = u < 0.10
    winner = np.where(rng.random(n_votes) < expit(eta), 0, 1).astype(np.int8)  # 0 model_a, 1 model_b
    winner[tie] = np.where(u[tie] < 0.07, 2, 3)  # 2 tie, 3 tie (bothbad)
    turns = rng.geometric(0.7, n_votes).clip(1, 8).astype(np.int32)
    user_tokens = np.exp(rng.normal(4.5, 1.2, n_votes)).astype(np.int32) * turns
    language = rng.choice(len(LANGUAGES), n_votes, p=LANGUAGE_P).astype(np.int8)
    judge = rng.integers(0, JUDGES, n_votes).astype(np.int32)
    time_to_vote = np.round(np.exp(rng.normal(3.0, 0.8, n_votes)), 2)
    # a year of votes, in id order; the battle started a minute or so per turn before its vote
    vote_us = np.sort(rng.integers(0, 365 * 86_400 * 10**6, n_votes))
    start_us = vote_us - (turns * 60 + time_to_vote).astype(np.int64) * 10**6
    # battle ids: random 128-bit values, sorted so the primary-key indexes are appended to
    high = rng.integers(0, 2**63, n_votes, dtype=np.int64).astype(np.uint64) << np.uint64(1)
    low = rng.integers(0, 2**63, n_votes, dtype=np.int64).astype(np.uint64)
    order = np.lexsort((low, high))
    return dict(
        names=np.array([f"model-{i:03d}" for i in range(n_models)], dtype=object), strength=strength,
        a=a, b=b, winner=winner, style_a=style_a, style_b=style_b, turns=turns, user_tokens=user_tokens,
        language=language, judge=judge, time_to_vote=time_to_vote, vote_us=vote_us, start_us=start_us,
        id_high=high[order], id_low=low[order],
    )


BATTLE_COLUMNS = ["id", "mode", "model_a", "model_b", "judge_id", "status", "turns", "leak_flag", "leak_terms",
                  "error_flag", "error_detail", "usage", "created_at", "updated_at"]
VOTE_COLUMNS = ["battle_id", "winner", "judge_id", "time_to_vote_s", "created_at", "model_a", "model_b", "mode",
                "leak_flag", "error_flag", "turns", "user_tokens", "language", "len_a", "len_b", "headers_a",
                "headers_b", "lists_a", "lists_b", "bold_a", "bold_b"]


def chunk_rows(data: dict, judge_ids: list[int], start: int, stop: int, *, sqlite: bool) -> tuple[list[tuple], list[tuple]]:
    """Battle and vote rows for votes [start, stop), as tuples in BATTLE_COLUMNS / VOTE_COLUMNS order."""
    import numpy as np

    pair = np.empty((stop - start, 2), dtype=">u8")
    pair[:, 0], pair[:, 1] = data["id_high"][start:stop], data["id_low"][start:stop]
    blob = pair.tobytes().hex()
    ids = [blob[i:i + 32] for i in range(0, len(blob), 32)]
    names = data["names"]
    model_a = names[data["a"][start:stop]].tolist()
    model_b = names[data["b"][start:stop]].tolist()
    judge = np.asarray(judge_ids, dtype=np.int64)[data["judge"][start:stop]].tolist()
    turns = data["turns"][start:stop].tolist()
    winners = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)[data["winner"][start:stop]].tolist()
    language = np.array(LANGUAGES, dtype=object)[data["language"][start:stop]].tolist()
    epoch = np.datetime64("2025-01-01T00:00:00", "us")
    voted = epoch + data["vote_us"][start:stop].astype("timedelta64[us]")
    started = epoch + data["start_us"][start:stop].astype("timedelta64[us]")
    if sqlite:  # SQLAlchemy's SQLite DateTime storage format; booleans as 0/1, JSON as text
        voted_at = [s.replace("T", " ") for s in np.datetime_as_string(voted, unit="us").tolist()]
        started_at = [s.replace("T", " ") for s in np.datetime_as_string(started, unit="us").tolist()]
        false, empty_list, empty_dict = 0, "[]", "{}"
    else:
        from datetime import timezone

        voted_at = [d.replace(tzinfo=timezone.utc) for d in voted.astype(object).tolist()]
        started_at = [d.replace(tzinfo=timezone.utc) for d in started.astype(object).tolist()]
        false, empty_list, empty_dict = False, [], {}
    n = stop - start
    battles = list(zip(ids, ["anony"] * n, model_a, model_b, judge, ["voted"] * n, turns, [false] * n, [empty_list] * n,
                       [false] * n, [None] * n, [empty_dict] * n, started_at, voted_at))
    sa_, sb_ = data["style_a"], data["style_b"]
    votes = list(zip(ids, winners, judge, data["time_to_vote"][start:stop].tolist(), voted_at, model_a, model_b,
                     ["anony"] * n, [false] * n, [false] * n, turns, data["user_tokens"][start:stop].tolist(), language,
                     sa_[0][start:stop].tolist(), sb_[0][start:stop].tolist(), sa_[1][start:stop].tolist(),
                     sb_[1][start:stop].tolist(), sa_[2][start:stop].tolist(), sb_[2][start:stop].tolist(),
                     sa_[3][start:stop].tolist(), sb_[3][start:stop].tolist()))
    return battles, votes


def write_sqlite(store, path: Path, data: dict, judge_hashes: list[str]) -> None:  # noqa: ANN001
    """Bulk load with sqlite3 on the store's file (rollback journal off while loading, WAL again after)."""
    import sqlite3

    store.engine.dispose()  # no other connection may hold the file while the journal mode changes
    con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY", "locking_mode=EXCLUSIVE"):
        con.execute(f"PRAGMA {pragma}")
    created = "2025-01-01 00:00:00.000000"
    con.execute("BEGIN")
    con.executemany("INSERT INTO judges (judge_hash, created_at) VALUES (?, ?)", [(h, created) for h in judge_hashes])
    con.execute("COMMIT")
    judge_ids = [row[0] for row in con.execute("SELECT id FROM judges ORDER BY id")]
    battle_sql = f"INSERT INTO battles ({', '.join(BATTLE_COLUMNS)}) VALUES ({', '.join('?' * len(BATTLE_COLUMNS))})"
    vote_sql = f"INSERT INTO votes ({', '.join(VOTE_COLUMNS)}) VALUES ({', '.join('?' * len(VOTE_COLUMNS))})"
    total = len(data["a"])
    started = time.perf_counter()
    for start in range(0, total, CHUNK):
        stop = min(start + CHUNK, total)
        battles, votes = chunk_rows(data, judge_ids, start, stop, sqlite=True)
        con.execute("BEGIN")
        con.executemany(battle_sql, battles)
        con.executemany(vote_sql, votes)
        con.execute("COMMIT")
        if (stop // CHUNK) % 10 == 0 or stop == total:
            rate = stop / (time.perf_counter() - started)
            progress(f"inserted {stop}/{total} battles+votes ({rate:,.0f} votes/s)")
    con.execute("PRAGMA locking_mode=NORMAL")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()


def write_core(store, data: dict, judge_hashes: list[str]) -> None:  # noqa: ANN001
    """Bulk load through SQLAlchemy Core executemany (any database; COPY on PostgreSQL)."""
    from datetime import datetime, timezone

    from sqlalchemy import insert, select

    from arena.tables import Battle, Judge, Vote

    created = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with store.engine.begin() as conn:
        conn.execute(insert(Judge.__table__), [dict(judge_hash=h, created_at=created) for h in judge_hashes])
        judge_ids = list(conn.execute(select(Judge.id).order_by(Judge.id)).scalars())
    total = len(data["a"])
    started = time.perf_counter()
    for start in range(0, total, CHUNK):
        stop = min(start + CHUNK, total)
        battles, votes = chunk_rows(data, judge_ids, start, stop, sqlite=False)
        with store.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # COPY: several times faster than executemany
                cursor = conn.connection.dbapi_connection.cursor()
                battles = [(*row[:8], "[]", *row[9:11], "{}", *row[12:]) for row in battles]  # JSON columns as text
                for table, columns, rows in (("battles", BATTLE_COLUMNS, battles), ("votes", VOTE_COLUMNS, votes)):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                cursor.close()
            else:
                conn.execute(insert(Battle.__table__), [dict(zip(BATTLE_COLUMNS, row)) for row in battles])
                conn.execute(insert(Vote.__table__), [dict(zip(VOTE_COLUMNS, row)) for row in votes])
        if (stop // CHUNK) % 10 == 0 or stop == total:
            rate = stop / (time.perf_counter() - started)
            progress(f"inserted {stop}/{total} battles+votes ({rate:,.0f} votes/s)")


# --------------------------------------------------------------------- cold run
def measure_cold(args: argparse.Namespace) -> None:
    """Runs in a fresh interpreter: imports, then Store + compute, as one JSON line on stdout."""
    started = time.perf_counter()
    import numpy  # noqa: F401
    import scipy.optimize  # noqa: F401
    import sqlalchemy  # noqa: F401

    from arena.leaderboard import LeaderboardQuery, LeaderboardService
    from arena.store import Store

    imports_s = time.perf_counter() - started
    store = Store(args.database_url, migrate=False)
    if args.forget_elo:  # a store whose online Elo was never computed: it replays every vote
        from sqlalchemy import delete

        from arena.tables import ArenaMeta

        with store.session() as session, session.begin():
            session.execute(delete(ArenaMeta).where(ArenaMeta.key.like("elo:%")))
    started = time.perf_counter()
    board = LeaderboardService(store).compute(LeaderboardQuery(rounds=args.rounds))
    seconds = time.perf_counter() - started
    print(json.dumps({"imports_s": imports_s, "seconds": seconds, "rows": len(board.ratings.rows),
                      "votes": board.ratings.total_votes, "peak_rss_mb": own_peak_rss_mb()}))


def evict_file_cache(path: Path) -> bool:
    """Ask the kernel to drop the database file's cached pages (best effort; clean pages only)."""
    if not hasattr(os, "posix_fadvise"):
        return False
    done = False
    for suffix in ("", "-wal"):
        name = Path(str(path) + suffix)
        if name.exists():
            fd = os.open(name, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                done = True
            finally:
                os.close(fd)
    return done


def run_cold(args: argparse.Namespace, *, forget_elo: bool = False) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--measure-cold", "--database-url", args.database_url,
               "--rounds", str(args.rounds)] + (["--forget-elo"] if forget_elo else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(output.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------- baseline
def baseline(store, rounds: int, seed: int = 0) -> dict:  # noqa: ANN001
    """FastChat-style: every vote row read, unique outcome rows, L-BFGS per fit, *rounds* bootstrap refits from zeros."""
    import math

    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit
    from sqlalchemy import select

    from arena.categories import category_filter
    from arena.tables import Vote

    timings = {}
    started = time.perf_counter()
    query = select(Vote.model_a, Vote.model_b, Vote.winner).where(category_filter("overall", store.long_prompt_tokens))
    codes: dict[str, int] = {}
    outcome_code = {"model_a": 2, "model_b": 0, "tie": 1, "tie (bothbad)": 1}  # target = code / 2
    columns: list[list[np.ndarray]] = [[], [], []]
    gc_was_enabled = gc.isenabled()
    gc.disable()  # see elo_first_read: with the GC on, holding millions of rows costs several times the read
    try:
        with store.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=CHUNK * 2).execute(query)
            for rows in result.partitions():
                model_a, model_b, winner = zip(*rows)
                for name in sorted((set(model_a) | set(model_b)) - codes.keys()):
                    codes[name] = len(codes)
                columns[0].append(np.fromiter(map(codes.__getitem__, model_a), np.int64, len(rows)))
                columns[1].append(np.fromiter(map(codes.__getitem__, model_b), np.int64, len(rows)))
                columns[2].append(np.fromiter(map(outcome_code.__getitem__, winner), np.int64, len(rows)))
    finally:
        if gc_was_enabled:
            gc.enable()
    first, second, outcome = (np.concatenate(c) if c else np.zeros(0, np.int64) for c in columns)
    timings["read_s"] = time.perf_counter() - started

    mark = time.perf_counter()
    models = sorted(codes, key=codes.get)
    n = len(models)
    n_battles = len(first)
    keys, counts = np.unique((first * n + second) * 3 + outcome, return_counts=True)  # the unique (a, b, outcome) rows
    unique = np.column_stack([keys // 3 // n, keys // 3 % n, keys % 3])
    a, b, target = unique[:, 0], unique[:, 1], unique[:, 2] / 2.0
    alpha = math.log(10.0)  # ratings in log10 units, as FastChat fits them
    timings["unique_s"] = time.perf_counter() - mark

    def loss_and_grad(ratings: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        z = alpha * (ratings[a] - ratings[b])
        loss = -np.sum(weights * (target * log_expit(z) + (1.0 - target) * log_expit(-z)))
        g = -alpha * weights * (target - expit(z))  # d loss / d z, scattered to +a / -b (the one-hot rows)
        grad = np.bincount(a, g, n) - np.bincount(b, g, n)
        return loss, grad

    def fit(weights: np.ndarray) -> np.ndarray:
        result = minimize(loss_and_grad, np.zeros(n), args=(weights,), jac=True, method="L-BFGS-B",
                          options={"maxiter": 100, "gtol": 1e-6})
        return result.x

    mark = time.perf_counter()
    ratings = fit(counts.astype(float))
    timings["fit_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_battles, counts / counts.sum(), size=rounds).astype(float) / n_battles
    samples = np.array([fit(w) for w in draws])
    timings["bootstrap_s"] = time.perf_counter() - mark
    timings["total_s"] = time.perf_counter() - started
    scores = 400.0 * (ratings - ratings.mean()) + 1000.0
    boot = 400.0 * (samples - samples.mean(axis=1, keepdims=True)) + 1000.0
    timings.update(models=models, scores=scores, ci_low=np.percentile(boot, 2.5, axis=0),
                   ci_high=np.percentile(boot, 97.5, axis=0), unique_rows=len(unique), votes=n_battles)
    return timings


# ------------------------------------------------------------------------- main
def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def breakdown(store, rounds: int) -> dict:  # noqa: ANN001
    """Where a warm compute() spends its time, stage by stage (same calls as compute_ratings)."""
    from arena.ratings import Comparisons, bootstrap_logits, fit_bradley_terry, sandwich_covariance

    out = {}
    out["votes_version"], _ = timed(store.votes_version)
    out["outcome_columns"], columns = timed(store.outcome_columns, "overall")
    out["from_columns"], comparisons = timed(Comparisons.from_columns, columns["model_a"], columns["model_b"], columns["winner"], columns["n"])
    out["fit"], theta = timed(lambda: fit_bradley_terry(comparisons.win_matrix()))
    out["sandwich"], _ = timed(sandwich_covariance, comparisons, theta)
    out["bootstrap"], _ = timed(bootstrap_logits, comparisons, rounds=rounds, theta0=theta)
    out["outcome_rows"] = len(columns["n"])
    return out


def elo_first_read(store) -> dict:  # noqa: ANN001
    """The cost of online Elo the first time: read every vote (the app's per-vote reader), then the Python loop."""
    from arena.ratings import online_elo

    read_s, votes = timed(store.vote_arrays, "overall")
    loop_s, _ = timed(lambda: online_elo(votes.a.tolist(), votes.b.tolist(), votes.score.tolist(), len(votes.models)))
    return {"read_s": read_s, "loop_s": loop_s, "rows": len(votes)}


def live_refresh(store, path: str, board, rounds: int) -> tuple[list[float], float, float]:  # noqa: ANN001
    """What the running app does when votes arrive: on a copy of the database, insert 100 votes and
    time ``get()``, which folds them into the live bootstrap (three times). Then the same for the
    style-controlled leaderboard: its first ``get()`` in the process, and one after 100 more votes
    (the per-vote arrays are kept; only the new votes are read)."""
    import random
    import shutil
    from datetime import datetime, timezone

    from arena.categories import VoteFacts
    from arena.leaderboard import LeaderboardQuery, LeaderboardService
    from arena.store import BattleRecord, Store

    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    work = f"{path}.live-work"
    shutil.copyfile(path, work)
    rng = random.Random(0)
    models = board.ratings.models
    times = []
    try:
        copy = Store(f"sqlite:///{work}", migrate=False)
        service = LeaderboardService(copy)
        query = LeaderboardQuery(rounds=rounds)
        service.get(query)  # the running app's state before the new votes
        def add_votes(batch: int) -> None:
            records = []
            for i in range(100):
                a, b = rng.sample(models, 2)
                facts = VoteFacts(model_a=a, model_b=b, winner=rng.choice(["model_a", "model_b", "tie"]), mode="anony",
                                  style_a=(rng.randint(50, 3000), rng.randint(0, 4), rng.randint(0, 9), rng.randint(0, 6)),
                                  style_b=(rng.randint(50, 3000), rng.randint(0, 4), rng.randint(0, 9), rng.randint(0, 6)))
                records.append(BattleRecord(battle_id=f"live{batch:02d}{i:026d}", facts=facts, judge_hash=copy.hash_judge("bench"),
                                            created_at=datetime.now(timezone.utc), conversation_a=[], conversation_b=[]))
            copy.insert_battles(records)

        for batch in range(3):
            add_votes(batch)
            times.append(timed(service.get, query)[0])
        style_query = LeaderboardQuery(style_control=True, rounds=rounds)
        style_first_s = timed(service.get, style_query)[0]
        add_votes(3)
        style_refresh_s = timed(service.get, style_query)[0]
        copy.close()
    finally:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(work + suffix):
                os.remove(work + suffix)
    return times, style_first_s, style_refresh_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=None, help="models (default 200; --quick: 20)")
    parser.add_argument("--votes", type=int, default=None, help="votes (default 3800000; --quick: 200000)")
    parser.add_argument("--database-url", default=None, help="default: a cached SQLite file under bench/.data/")
    parser.add_argument("--rounds", type=int, default=100, help="bootstrap rounds of the leaderboard")
    parser.add_argument("--baseline-rounds", type=int, default=100, help="bootstrap refits of the baseline")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--fresh", action="store_true", help="regenerate the data set even if cached")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 models, 200k votes")
    parser.add_argument("--measure-cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--forget-elo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_cold:
        measure_cold(args)
        return
    args.models = args.models or (20 if args.quick else 200)
    args.votes = args.votes or (200_000 if args.quick else 3_800_000)
    args.database_url = args.database_url or default_url(args.models, args.votes)

    import numpy as np

    from arena.leaderboard import LeaderboardQuery, LeaderboardService

    store, generated = prepare_store(args)
    path = sqlite_path(args.database_url)
    store.close()
    progress(f"peak RSS after data preparation: {peak_rss_mb():.0f} MB")

    # cold: a fresh interpreter per run
    cold = run_cold(args)
    progress(f"cold (new process): {cold['seconds']:.2f} s, imports {cold['imports_s']:.2f} s, peak RSS {cold['peak_rss_mb']:.0f} MB")
    cold_no_elo = run_cold(args, forget_elo=True)  # saves the state again for the next runs
    progress(f"cold (new process, online Elo never computed: replays all votes): {cold_no_elo['seconds']:.2f} s")
    cold_evicted = None
    if path is not None and evict_file_cache(path):  # last of the cold runs: the others would read from disk too
        cold_evicted = run_cold(args)
        progress(f"cold (new process, file pages dropped): {cold_evicted['seconds']:.2f} s")

    # warm, cached, style control: this process
    from arena.store import Store

    store = Store(args.database_url, migrate=False)
    service = LeaderboardService(store)
    query = LeaderboardQuery(rounds=args.rounds)
    first_s, board = timed(service.compute, query)
    progress(f"first compute() in process: {first_s:.2f} s")
    warm = [timed(service.compute, query)[0] for _ in range(3)]
    warm_s = statistics.median(warm)
    progress(f"warm compute(): {', '.join(f'{s:.3f}' for s in warm)} s -> median {warm_s:.3f} s")
    service.get(query)
    cached = [timed(service.get, query)[0] for _ in range(5)]
    cached_s = statistics.median(cached)
    progress(f"cached get(): median {cached_s * 1000:.2f} ms")
    live, style_first_s, style_refresh_s = live_refresh(store, path, board, args.rounds) if path is not None else (None, None, None)
    if live:
        progress(f"live refresh after 100 new votes: {', '.join(f'{s:.3f}' for s in live)} s -> median {statistics.median(live):.3f} s")
        progress(f"style control get(): first in process {style_first_s:.2f} s, after 100 new votes {style_refresh_s:.2f} s")
    fragility_s, fragility = timed(service.fragility, query)
    progress(f"fragility of the #1: {fragility.votes if fragility else None} votes, {fragility_s:.2f} s")
    style_s, style_board = timed(service.compute, LeaderboardQuery(style_control=True, rounds=args.rounds))
    progress(f"style control compute() (first in process): {style_s:.2f} s")
    stages = breakdown(store, args.rounds)
    elo = elo_first_read(store)
    progress("warm stages: " + ", ".join(f"{k} {v:.3f} s" for k, v in stages.items() if k != "outcome_rows")
             + f" ({stages['outcome_rows']} outcome rows); Elo first time: read {elo['read_s']:.2f} s + loop {elo['loop_s']:.2f} s")
    leaderboard_rss = peak_rss_mb()

    # baseline
    progress(f"baseline: read all votes, unique rows, L-BFGS fit + {args.baseline_rounds} bootstrap refits ...")
    base = baseline(store, args.baseline_rounds)
    progress(f"baseline: read {base['read_s']:.1f} s, unique {base['unique_s']:.1f} s, fit {base['fit_s']:.2f} s, "
             f"bootstrap {base['bootstrap_s']:.1f} s, total {base['total_s']:.1f} s ({base['unique_rows']} unique rows)")
    store.close()

    # agreement of the two fits, and recovery of the generating strengths
    ours = {row.model: row for row in board.ratings.rows}
    common = [m for m in base["models"] if m in ours]
    diff = np.array([ours[m].score - s for m, s in zip(base["models"], base["scores"]) if m in ours])
    ci_ours = np.array([ours[m].ci_high - ours[m].ci_low for m in common])
    ci_base = np.array([base["ci_high"][i] - base["ci_low"][i] for i, m in enumerate(base["models"]) if m in ours])
    truth = np.array([generated["strength"][int(m.split("-")[1])] for m in common])
    fitted = np.array([ours[m].score for m in common])
    recovered = f", corr(fit, true strength) {np.corrcoef(truth, fitted)[0, 1]:.4f}"
    style = style_board.ratings.style_coefficients or {}

    print(f"data: {args.models} models, {board.ratings.total_votes} votes in 'overall', {stages['outcome_rows']} vote_counts rows, {args.database_url}")
    if "insert_s" in generated:
        when = "when the cached data set was made" if generated["cached"] else "this run"
        print(f"generation ({when}): synthesize + insert {generated['insert_s']:.1f} s, "
              f"rebuild_vote_counts {generated['rebuild_s']:.1f} s, online Elo brought up to date {generated.get('elo_s', float('nan')):.1f} s")
    print("warm stages: " + ", ".join(f"{k} {v:.3f} s" for k, v in stages.items() if k != "outcome_rows")
          + f"; online Elo first time: read {elo['read_s']:.2f} s + loop {elo['loop_s']:.2f} s over {elo['rows']} votes")
    print(f"in-process: first compute {first_s:.2f} s, warm {', '.join(f'{s:.3f}' for s in warm)} s; "
          f"peak RSS {leaderboard_rss:.0f} MB (this process, incl. generation if any), cold process {cold['peak_rss_mb']:.0f} MB")
    print(f"baseline: read {base['read_s']:.2f} s, unique rows {base['unique_s']:.2f} s ({base['unique_rows']} rows), "
          f"fit {base['fit_s']:.2f} s, {args.baseline_rounds} bootstrap refits {base['bootstrap_s']:.2f} s")
    print(f"agreement: max |score − baseline| {np.abs(diff).max():.2f} points, mean CI width {ci_ours.mean():.2f} vs baseline "
          f"{ci_base.mean():.2f}{recovered}; style coefficients "
          + ", ".join(f"{k} {c:+.3f}±{e:.3f}" for k, (c, e) in style.items()))
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    evicted = f", cold with file pages dropped {cold_evicted['seconds']:.2f} s" if cold_evicted else ""
    style_live = f", style control refresh after 100 new votes {style_refresh_s:.2f} s (first get {style_first_s:.2f} s)" if live else ""
    print(f"cold {cold['seconds']:.2f} s (imports {cold['imports_s']:.2f} s, not included){evicted}, cold with online Elo never "
          f"computed {cold_no_elo['seconds']:.2f} s, cached {cached_s * 1000:.2f} ms, style control first in process {style_s:.2f} s{style_live}")
    print(f"from scratch, warm: {warm_s:.2f} s (ratio {base['total_s'] / warm_s:.0f}x to the baseline)")
    if fragility is not None:
        print(f"fragility of the #1 ({fragility.leader} over {fragility.challenger}): {fragility.votes} of {fragility.total_votes:,} votes "
              f"(linear estimate {fragility.linear_estimate}, {fragility.refits} refits) in {fragility_s:.2f} s (target 2 s)")
    headline = statistics.median(live) if live else warm_s
    what = "live refresh after 100 new votes" if live else "warm compute"
    print(f"leaderboard {args.models} models {board.ratings.total_votes} votes: {headline:.2f} s "
          f"(baseline {base['total_s']:.1f} s) ratio {base['total_s'] / headline:.0f}x [{what}]")


if __name__ == "__main__":
    main()
