"""``python -m arena judge`` and ``python -m arena agreement``: the AI judges from the command line."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from arena.cli.output import print_report
from arena.settings import Settings


def add_judging_parsers(sub: argparse._SubParsersAction) -> None:
    judge = sub.add_parser("judge", help="queue voted battles for the AI judges, then judge the queue")
    judge.add_argument("--models", default="models.yaml", help="models.yaml declaring the judges")
    judge.add_argument("--judge", action="append", help="only this judge (repeatable; default: every judge)")
    judge.add_argument("--since", type=_date, default=None, help="only votes at or after DATE (YYYY-MM-DD)")
    judge.add_argument("--limit", type=int, default=None, help="queue and judge at most N battles per judge")
    judge.add_argument("--concurrency", type=int, default=None,
                       help="readings at once per judge, for every judge (default: each judge's concurrency in models.yaml)")
    judge.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")

    report = sub.add_parser("agreement", help="each AI judge's agreement with the human votes (95%% bootstrap intervals)")
    report.add_argument("--judge", action="append", help="only this judge (repeatable)")
    report.add_argument("--by", choices=["category", "pair"], default=None, help="one row per category or model pair")
    report.add_argument("--format", choices=["table", "json", "csv"], default="table")
    report.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds of the agreement intervals")


def _date(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None


def run_judge(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from tqdm import tqdm

    from arena.judging import JudgingWorker, judges_for_cli
    from arena.store import Store

    try:
        judges, limits = judges_for_cli(args.models, args.judge, settings=settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = Store(settings.database_url, long_prompt_tokens=settings.long_prompt_tokens)
    concurrency = limits.concurrency if args.concurrency is None else args.concurrency
    worker = JudgingWorker(store, judges, concurrency=concurrency, rate=limits.rate)
    try:
        queued = worker.enqueue(since=args.since, limit=args.limit)
        total = worker.pending() if args.limit is None else min(worker.pending(), args.limit * len(judges))
        print(f"queued {queued:,} battles; {total:,} to judge with {', '.join(j.name for j in judges)}", file=sys.stderr)
        with tqdm(total=total, unit="battle", desc="judge", disable=not args.progress) as bar:
            tally = asyncio.run(_run_worker(worker, args.limit, lambda judge, status: bar.update(1)))
        counts = store.judgement_counts()
    finally:
        store.close()
    for judge in judges:
        done = {status: n for (name, status), n in tally.counts.items() if name == judge.name}
        stored = counts.get(judge.name, {})
        print(f"{judge.name}: judged {sum(done.values()):,} now ({', '.join(f'{k} {v:,}' for k, v in sorted(done.items())) or 'none'});"
              f" stored {', '.join(f'{k} {v:,}' for k, v in sorted(stored.items())) or 'nothing'}")
    return 0


async def _run_worker(worker, limit, on_judged):  # noqa: ANN001, ANN202 - a JudgingWorker, its limit and callback
    """One pass of the worker, its judges closed after (in the same event loop as their clients)."""
    try:
        return await worker.run_once(limit, on_judged=on_judged)
    finally:
        await worker.aclose()


def run_agreement(args: argparse.Namespace, settings: Settings) -> int:
    from arena.judge_report import agreement_report
    from arena.store import Store

    store = Store(settings.database_url, long_prompt_tokens=settings.long_prompt_tokens)
    try:
        report = agreement_report(store, judges=args.judge, by=args.by, rounds=args.rounds)
    finally:
        store.close()
    rows = [_flat_agreement(row) for row in report["agreement"]]
    print_report(args.format, report, rows, ["judge", "group", "n_battles"], lambda: format_agreement(report))
    return 0


_RATES = ("invalid_rate", "agreement_without_ties", "agreement_with_ties", "cohen_kappa", "position_consistency")


def _flat_agreement(row: dict) -> dict:
    """One agreement row with each estimate as three columns (value, low, high), for CSV."""
    flat = {k: v for k, v in row.items() if k not in _RATES}
    for name in _RATES:
        for part in ("value", "low", "high"):
            flat[f"{name}{'' if part == 'value' else '_' + part}"] = row[name][part]
    return flat


def format_agreement(report: dict) -> str:
    """The agreement rows as a fixed-width table, each rate with its 95 % interval, then each judge's board comparison."""
    if not report["agreement"]:
        return "no judged battles yet (python -m arena judge)"

    def cell(estimate: dict) -> str:
        if estimate["value"] is None:
            return "n/a"
        interval = "" if estimate["low"] is None else f" [{estimate['low']:.2f}, {estimate['high']:.2f}]"
        return f"{estimate['value']:.3f}{interval}"

    header = ("judge", "group", "battles", "invalid", "agree (no ties)", "agree (ties)", "kappa", "consistent")
    lines = [header] + [(r["judge"], r["group"] or "all", str(r["n_battles"]), cell(r["invalid_rate"]), cell(r["agreement_without_ties"]),
                         cell(r["agreement_with_ties"]), cell(r["cohen_kappa"]), cell(r["position_consistency"]))
                        for r in report["agreement"]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    for board in report["boards"]:
        overrated = ", ".join(f"{g['model']} (+{g['gap']:.1f}" + ("" if g["gap_after_style"] is None else
                                                              f", {g['gap_after_style']:+.1f} after style control") + ")"
                              for g in board["goodhart"]) or "none"
        spearman = "n/a" if board["spearman"] is None else f"{board['spearman']:.3f}"
        text.append(f"{board['judge']}: board vs humans on {board['n_battles']:,} battles: Spearman {spearman},"
                    f" {board['contradicted_pairs']} pairs contradicted, overrated beyond both intervals: {overrated}")
        if board["style"]:
            text.append("  style coefficients, people vs judge: " + ", ".join(
                f"{s['feature']} {s['human']:+.2f} vs {s['judge']:+.2f}{' *' if s['significant'] else ''}" for s in board["style"]))
    return "\n".join(text)
