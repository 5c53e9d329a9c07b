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
import logging
import sys
from typing import Sequence

from arena.cli.judging import add_judging_parsers, run_agreement, run_judge
from arena.cli.leaderboard import add_leaderboard_parser, run_leaderboard
from arena.config import ConfigError, load_catalogue
from arena.logs import configure_logging
from arena.settings import Settings, SettingsError

log = logging.getLogger("arena")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m arena", description="Starling Arena command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the web app")
    add_serve_arguments(serve)

    add_leaderboard_parser(sub)

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
        return run_leaderboard(args, settings)
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
        return run_judge(args, settings)
    if args.command == "agreement":
        return run_agreement(args, settings)
    if args.command == "prepare-embedded":
        from arena.embedded import ensure_converted

        print(ensure_converted(settings.cache_dir))
        return 0
    raise AssertionError(args.command)


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
