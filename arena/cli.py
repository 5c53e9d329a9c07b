"""``python -m arena …``: the command line for everything but the web app's default start.

Subcommands:
  serve         start the web app (same as ``python app.py``)
  leaderboard   print the Bradley–Terry leaderboard from the store
  import-battles  load FastChat-format battles (JSON lines) into the store
  export        write the vote log as training data (battles, pairwise/KTO, kwise, sharegpt)
  rebuild-counts  recompute per-category vote counts
  check-models  validate models.yaml and probe every endpoint (--no-probe: validate only)
  db upgrade    migrate the database to the newest schema
  prepare-embedded  convert the embedded model once (the app also does it on first start)
  judge         queue voted battles for the AI judges and judge them (both answer orders)
  agreement     print each AI judge's agreement with the human votes, and its leaderboard against theirs
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Sequence

from arena.config import ConfigError, load_catalogue
from arena.logs import configure_logging
from arena.settings import Settings, SettingsError

if TYPE_CHECKING:  # the leaderboard (numpy, scipy, the store) is imported only by the commands that use it
    from arena.leaderboard import Leaderboard

log = logging.getLogger("arena")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m arena", description="Starling Arena command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the web app")
    add_serve_arguments(serve)

    board = sub.add_parser("leaderboard", help="print the leaderboard from the store (the same numbers as the tab)")
    board.add_argument("--models", default="models.yaml", help="models.yaml for organization/license columns")
    board.add_argument("--category", default="overall", help="overall, anonymous, all, multi_turn, long_prompt, no_ties or lang:<code>")
    board.add_argument("--style-control", action="store_true", help="adjust for answer length and markdown style")
    board.add_argument("--ci", choices=["bootstrap", "sandwich"], default="bootstrap", help="interval used for Rank (UB)")
    board.add_argument("--reweight", action="store_true", help="weight votes by inverse pair frequency")
    board.add_argument("--daily-cap", type=int, default=None, help="count at most N votes per judge per day")
    board.add_argument("--min-votes", type=int, default=None, help="hide models with fewer votes (default: ARENA_LEADERBOARD_MIN_VOTES)")
    board.add_argument("--format", choices=["table", "json", "csv"], default="table")

    importer = sub.add_parser("import-battles", help="load FastChat / chatbot_arena_conversations JSON lines into the store")
    importer.add_argument("file", help="a .jsonl (or .jsonl.gz) file, one battle per line")
    importer.add_argument("--batch-size", type=int, default=2000)

    from arena.export import cli as export_cli

    export_cli.add_arguments(sub.add_parser("export", help="write the vote log as training data with a datasheet"))

    sub.add_parser("rebuild-counts", help="recompute the per-category vote counts from the votes table")

    check = sub.add_parser("check-models", help="validate models.yaml and probe every endpoint (a table; exit 1 on a failure)")
    check.add_argument("models", nargs="?", default="models.yaml")
    check.add_argument("--probe", dest="probe", action="store_true", default=True, help="probe every endpoint (the default)")
    check.add_argument("--no-probe", dest="probe", action="store_false", help="only validate the file")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate to the newest schema")

    sub.add_parser("prepare-embedded", help="convert the embedded SmolLM2 GGUF into a cached Hugging Face folder")
    add_judging_parsers(sub)
    return parser


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


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default="models.yaml", help="path of models.yaml (default: models.yaml)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "export":
            from arena.export import cli as export_cli

            return export_cli.run(args, settings, list(argv) if argv is not None else None)
        return _dispatch(args, settings)
    except (ConfigError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from arena.server import serve

        serve(args.models, args.host, args.port, settings=settings)
        return 0
    if args.command == "leaderboard":
        return _leaderboard(args, settings)
    if args.command == "check-models":
        return _check_models(args, settings)
    if args.command == "import-battles":
        return _import_battles(args, settings)
    if args.command == "rebuild-counts":
        from arena.store import Store

        store = Store(settings.database_url, long_prompt_tokens=settings.long_prompt_tokens)
        store.rebuild_vote_counts()
        store.close()
        print("vote counts rebuilt")
        return 0
    if args.command == "db":
        from arena.store import Store

        Store(settings.database_url).close()
        print("database is at the newest schema")
        return 0
    if args.command == "judge":
        return _judge(args, settings)
    if args.command == "agreement":
        return _agreement(args, settings)
    if args.command == "prepare-embedded":
        from arena.embedded import ensure_converted

        print(ensure_converted(settings.cache_dir))
        return 0
    raise AssertionError(args.command)


def _leaderboard(args: argparse.Namespace, settings: Settings) -> int:
    from arena.categories import UnknownCategory
    from arena.leaderboard import LeaderboardQuery, LeaderboardService
    from arena.store import Store

    catalogue = None
    try:
        catalogue = load_catalogue(args.models)
    except ConfigError:
        log.warning("could not read %s; organization and license columns stay empty", args.models)
    store = Store(settings.database_url, long_prompt_tokens=settings.long_prompt_tokens)
    service = LeaderboardService(store, anchor_model=settings.anchor_model, anchor_score=settings.anchor_score)
    query = LeaderboardQuery(
        category=args.category, style_control=args.style_control, ci_method=args.ci, reweight=args.reweight,
        daily_cap=args.daily_cap, min_votes=settings.leaderboard_min_votes if args.min_votes is None else args.min_votes,
    )
    try:
        board = service.get(query)
    except UnknownCategory as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    rows = board.as_rows(catalogue)
    payload = {
        "category": query.category, "description": board.description, "style_control": query.style_control,
        "ci_method": board.ratings.ci_method, "total_votes": board.ratings.total_votes, "notes": board.ratings.notes,
        "style_coefficients": board.ratings.style_coefficients, "rows": rows,
    }
    _print_report(args.format, payload, rows, ["rank", "model", "score"], lambda: format_table(rows, board))
    return 0


def _print_report(form: str, payload: dict, rows: list[dict], empty_fields: list[str], table: Callable[[], str]) -> None:
    """A report on stdout as JSON (*payload*), CSV (*rows*; *empty_fields* the header when there are none) or a table."""
    if form == "json":
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif form == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else empty_fields)
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(table())


def format_table(rows: list[dict], board: Leaderboard) -> str:
    """A fixed-width text table with the notes underneath."""
    lines = [f"{board.description} {board.ratings.total_votes:,} votes."]
    if not rows:
        return "\n".join([*lines, "no counted votes yet"])
    width = max(len(r["model"]) for r in rows)
    lines.append(f"{'rank':>4}  {'model':<{width}}  {'score':>7}  {'95% CI':>13}  {'votes':>7}  {'elo':>7}  organization")
    for r in rows:
        ci = f"+{r['ci_plus']:.1f}/-{r['ci_minus']:.1f}"
        elo = "" if r["elo"] is None else f"{r['elo']:.1f}"
        lines.append(f"{r['rank']:>4}  {r['model']:<{width}}  {r['score']:>7.1f}  {ci:>13}  {r['votes']:>7}  {elo:>7}  {r['organization']}")
    if board.ratings.style_coefficients:
        lines.append("style coefficients (per standard deviation): " + ", ".join(
            f"{name} {c:+.3f} ± {1.96 * e:.3f}" for name, (c, e) in board.ratings.style_coefficients.items()))
    lines.extend(f"note: {note}" for note in board.ratings.notes)
    return "\n".join(lines)


def _import_battles(args: argparse.Namespace, settings: Settings) -> int:
    from arena.importer import import_battles
    from arena.store import Store

    store = Store(settings.database_url, long_prompt_tokens=settings.long_prompt_tokens)
    try:
        report = import_battles(store, args.file, batch_size=args.batch_size, judge_salt=settings.judge_salt, progress=True)
        if report.imported:
            # Online Elo replays every vote in order once; doing it now saves the first leaderboard view the wait.
            from arena.leaderboard import LeaderboardService

            print("bringing the overall leaderboard's online Elo up to date ...", file=sys.stderr)
            LeaderboardService(store).elo_ratings()
    finally:
        store.close()
    for line_number, reason in report.rejected[:50]:
        print(f"{args.file}:{line_number}: rejected: {reason}", file=sys.stderr)
    if len(report.rejected) > 50:
        print(f"... and {len(report.rejected) - 50} more rejected lines", file=sys.stderr)
    print(f"imported {report.imported:,} battles, skipped {report.duplicates:,} already present, rejected {len(report.rejected):,} lines")
    return 1 if report.rejected else 0


def _check_models(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from arena.pool import ModelPool

    catalogue = load_catalogue(args.models)
    print(f"{args.models}: {len(catalogue.models)} models, valid")
    if not args.probe:
        return 0
    pool = ModelPool(catalogue, settings)
    asyncio.run(pool.refresh())
    rows = [("model", "endpoint", "status", "latency", "served ids"), *pool.endpoint_rows()]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    failed = [s.name for s in pool.statuses() if not s.available and s.detail != "disabled in models.yaml"]
    if failed:
        print(f"FAIL {', '.join(failed)}: no healthy endpoint", file=sys.stderr)
    return 1 if failed else 0


def _judge(args: argparse.Namespace, settings: Settings) -> int:
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


def _agreement(args: argparse.Namespace, settings: Settings) -> int:
    from arena.judge_report import agreement_report
    from arena.store import Store

    store = Store(settings.database_url, long_prompt_tokens=settings.long_prompt_tokens)
    try:
        report = agreement_report(store, judges=args.judge, by=args.by, rounds=args.rounds)
    finally:
        store.close()
    rows = [_flat_agreement(row) for row in report["agreement"]]
    _print_report(args.format, report, rows, ["judge", "group", "n_battles"], lambda: format_agreement(report))
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
