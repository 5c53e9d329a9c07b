"""Export throughput and memory: the vote log → ``pairwise`` JSON lines, at 100k and 1M battles.

    .venv/bin/python bench/export.py [--battles 1000000] [--small 100000] [--baseline-battles 20000] [--fresh]

1. **Generates** two SQLite stores under ``bench/.data/`` (kept between runs;
   ``--fresh`` regenerates): *small* and *battles* voted anonymous battles, each
   with a one-turn transcript (a prompt of 5–120 words, answers of 30–250
   words; about 15 % of the prompts repeat; winners 45/45/7/3 % model_a /
   model_b / tie / both bad, as in public arena data) written with ``sqlite3``
   executemany into the real schema (``Store(url)`` migrates it first), the
   vote's transcript snapshot included, as ``Store.record_vote`` writes it.
2. **Exports** each store with ``run_export(store, "pairwise", out.jsonl)`` in a
   fresh interpreter, timing it and reading that process's peak RSS, so the two
   sizes can be compared: memory should stay flat while the rows grow tenfold.
3. **Baseline**, the obvious implementation: the ORM loads each voted battle
   with its conversations and messages (``selectinload``), builds the same
   rows and writes them with ``json.dumps``; timed on *baseline-battles*
   battles of the big store.

The last line is ``export pairwise N battles: R rows/s, peak RSS M MB (small: …)
baseline … ratio Zx``. A benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / "bench" / ".data"
DATA_FORMAT = 4
MODELS = [f"model-{i:02d}" for i in range(20)]
WORDS = ("the of and to in is that for it as with was on be by this are from at or an which have not can more "
         "model answer question data python code value function result because example first time will would").split()


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high)))


def store_path(battles: int) -> Path:
    return DATA_DIR / f"export-{battles}b.sqlite3"


def generate(battles: int, fresh: bool) -> Path:
    """A store with *battles* voted battles and their transcripts (reused when its marker matches)."""
    import sqlite3

    from arena.prompts import prompt_hash
    from arena.snapshot import freeze
    from arena.store import Store

    path = store_path(battles)
    marker = json.dumps({"format": DATA_FORMAT, "battles": battles})
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not (DATA_DIR / ".gitignore").exists():
        (DATA_DIR / ".gitignore").write_text("# benchmark databases\n*\n")
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    Store(f"sqlite:///{path}").close()  # creates and migrates the schema
    con = sqlite3.connect(path, isolation_level=None)
    if con.execute("SELECT value FROM arena_meta WHERE key = 'bench_export'").fetchone() == (marker,):
        con.close()
        progress(f"reusing {path} ({battles:,} battles)")
        return path
    if con.execute("SELECT count(*) FROM votes").fetchone()[0]:
        con.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        Store(f"sqlite:///{path}").close()
        con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-500000", "locking_mode=EXCLUSIVE"):
        con.execute(f"PRAGMA {pragma}")
    rng = random.Random(battles)
    started = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO judges (id, judge_hash, created_at) VALUES (?, ?, '2026-01-01 00:00:00.000000')",
                    [(i + 1, f"{i:064x}") for i in range(5000)])
    con.execute("COMMIT")
    prompts = [text(rng, 5, 120) for _ in range(max(battles // 7, 1))]
    winners = ["model_a", "model_b", "tie", "tie (bothbad)"]
    for start in range(0, battles, 20_000):
        rows_b, rows_c, rows_m, rows_v = [], [], [], []
        for i in range(start, min(start + 20_000, battles)):
            battle_id = uuid.UUID(int=rng.getrandbits(128)).hex
            a, b = rng.sample(MODELS, 2)
            when = f"2026-{1 + i * 12 // battles:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00.000000"
            judge = rng.randint(1, 5000)
            prompt = rng.choice(prompts) if rng.random() < 0.15 else text(rng, 5, 120)
            rows_b.append((battle_id, "anony", a, b, judge, "voted", 1, 0, "[]", 0, None, "{}", when, when))
            sides = []
            for side, model in (("a", a), ("b", b)):
                conversation = f"{battle_id[:31]}{side}"
                answer = f"{model}: {text(rng, 30, 250)}"
                rows_c.append((conversation, battle_id, side, "anony", model, None, judge, when))
                rows_m.append((conversation, 0, 1, "user", prompt, 0, None, when))
                rows_m.append((conversation, 1, 1, "assistant", answer, 0, "stop", when))
                sides.append([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}])
            rows_v.append((battle_id, rng.choices(winners, weights=(45, 45, 7, 3))[0], judge, 3.0, when, a, b, "anony", 0, 0, 1, 100, "en",
                           prompt_hash([prompt]), freeze(sides[0], sides[1], ["stop", "stop"])))
        con.execute("BEGIN")
        con.executemany("INSERT INTO battles (id, mode, model_a, model_b, judge_id, status, turns, leak_flag, leak_terms, error_flag,"
                        " error_detail, usage, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows_b)
        con.executemany("INSERT INTO conversations (id, battle_id, side, mode, model, system_prompt, judge_id, created_at)"
                        " VALUES (?,?,?,?,?,?,?,?)", rows_c)
        con.executemany("INSERT INTO messages (conversation_id, position, turn, role, content, superseded, finish_reason, created_at)"
                        " VALUES (?,?,?,?,?,?,?,?)", rows_m)
        con.executemany("INSERT INTO votes (battle_id, winner, judge_id, time_to_vote_s, created_at, model_a, model_b, mode,"
                        " leak_flag, error_flag, turns, user_tokens, language, prompt_hash, transcript)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows_v)
        con.execute("COMMIT")
        done = min(start + 20_000, battles)
        if done % 100_000 == 0 or done == battles:
            progress(f"{path.name}: {done:,}/{battles:,} battles ({done / (time.perf_counter() - started):,.0f}/s)")
    con.execute("INSERT OR REPLACE INTO arena_meta (key, value) VALUES ('bench_export', ?)", (marker,))
    con.execute("PRAGMA locking_mode=NORMAL")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    return path


def measure(path: Path, out: Path) -> dict:
    """One export in a fresh interpreter: seconds, rows and that process's peak RSS."""
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", str(path), "--out", str(out)]
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_here(path: Path, out: Path) -> None:
    from arena.export import run_export
    from arena.store import Store

    store = Store(f"sqlite:///{path}", migrate=False)
    started = time.perf_counter()
    summary = run_export(store, "pairwise", out, datasheet=False)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": summary.rows_written, "read": summary.battles_read,
                      "peak_rss_mb": peak_rss_mb(), "bytes": out.stat().st_size}))


def baseline(path: Path, out: Path, limit: int) -> dict:
    """The obvious way: ORM objects with their conversations and messages, json.dumps per row."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from arena.snapshot import split_prompt
    from arena.store import Store
    from arena.tables import Battle, Conversation, Vote

    store = Store(f"sqlite:///{path}", migrate=False)
    started = time.perf_counter()
    rows = 0
    with store.session() as session, out.open("w") as handle:
        query = (select(Vote).options(selectinload(Vote.battle).selectinload(Battle.conversations).selectinload(Conversation.messages))
                 .order_by(Vote.id).limit(limit))
        for vote in session.scalars(query):
            if vote.winner not in ("model_a", "model_b") or vote.mode != "anony" or vote.leak_flag or vote.error_flag:
                continue
            sides = {c.side: [{"role": m.role, "content": m.content} for m in c.messages if not m.superseded]
                     for c in vote.battle.conversations}
            split = split_prompt(sides["a"], sides["b"])
            prompt, rest_a, rest_b = split.prompt, split.rest_a, split.rest_b
            a_won = vote.winner == "model_a"
            handle.write(json.dumps({"prompt": prompt, "chosen": rest_a if a_won else rest_b, "rejected": rest_b if a_won else rest_a,
                                     "chosen_model": vote.model_a if a_won else vote.model_b,
                                     "rejected_model": vote.model_b if a_won else vote.model_a, "battle_id": vote.battle_id}) + "\n")
            rows += 1
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "rows": rows, "battles": limit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--baseline-battles", type=int, default=20_000)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure_here(Path(args.measure), Path(args.out))
        return
    small, big = generate(args.small, args.fresh), generate(args.battles, args.fresh)
    results = {}
    for name, path in (("small", small), ("big", big)):
        out = DATA_DIR / f"export-{name}.jsonl"
        results[name] = measure(path, out)
        r = results[name]
        progress(f"{path.name}: {r['rows']:,} rows from {r['read']:,} battles in {r['seconds']:.1f} s "
                 f"({r['rows'] / r['seconds']:,.0f} rows/s, {r['read'] / r['seconds']:,.0f} battles/s), "
                 f"peak RSS {r['peak_rss_mb']:.0f} MB, {r['bytes'] / 1e6:,.0f} MB written")
        out.unlink(missing_ok=True)
    base = baseline(big, DATA_DIR / "export-baseline.jsonl", args.baseline_battles)
    (DATA_DIR / "export-baseline.jsonl").unlink(missing_ok=True)
    base_rate = base["rows"] / base["seconds"]
    progress(f"baseline (ORM + json.dumps): {base['rows']:,} rows from {base['battles']:,} battles in {base['seconds']:.1f} s")
    s, b = results["small"], results["big"]
    rate = b["rows"] / b["seconds"]
    print(f"{args.small:,} battles: {s['rows'] / s['seconds']:,.0f} rows/s, peak RSS {s['peak_rss_mb']:.0f} MB; "
          f"{args.battles:,} battles: {rate:,.0f} rows/s, peak RSS {b['peak_rss_mb']:.0f} MB; baseline {base_rate:,.0f} rows/s")
    print(f"export pairwise {args.battles} battles: {rate:,.0f} rows/s, peak RSS {b['peak_rss_mb']:.0f} MB "
          f"(at {args.small}: {s['peak_rss_mb']:.0f} MB) baseline {base_rate:,.0f} rows/s ratio {rate / base_rate:.1f}x")


if __name__ == "__main__":
    main()
