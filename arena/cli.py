"""``python -m arena …``: the command line for everything but the web app's default start.

Subcommands:
  serve         start the web app (same as ``python app.py``)
  leaderboard   print the Bradley–Terry leaderboard from the store
  check-models  validate models.yaml (and probe endpoints with --probe)
  db upgrade    migrate the database to the newest schema
  prepare-embedded  convert the embedded model once (the app also does it on first start)
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from typing import Sequence

from arena.config import ConfigError, load_catalogue
from arena.settings import Settings, SettingsError

log = logging.getLogger("arena")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m arena", description="Starling Arena command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the web app")
    add_serve_arguments(serve)

    board = sub.add_parser("leaderboard", help="print the leaderboard from the store")
    board.add_argument("--models", default="models.yaml", help="models.yaml for organization/license columns")
    board.add_argument("--format", choices=["table", "json", "csv"], default="table")
    board.add_argument("--min-votes", type=int, default=0)

    check = sub.add_parser("check-models", help="validate models.yaml; --probe also contacts every endpoint")
    check.add_argument("models", nargs="?", default="models.yaml")
    check.add_argument("--probe", action="store_true", help="probe endpoints and exit non-zero if any model is unavailable")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate to the newest schema")

    sub.add_parser("prepare-embedded", help="convert the embedded SmolLM2 GGUF into a cached Hugging Face folder")
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default="models.yaml", help="path of models.yaml (default: models.yaml)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
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
    if args.command == "db":
        from arena.store import Store

        Store(settings.database_url).close()
        print("database is at the newest schema")
        return 0
    if args.command == "prepare-embedded":
        from arena.embedded import ensure_converted

        print(ensure_converted(settings.cache_dir))
        return 0
    raise AssertionError(args.command)


def _leaderboard(args: argparse.Namespace, settings: Settings) -> int:
    from arena.leaderboard import leaderboard_rows
    from arena.store import Store

    catalogue = None
    try:
        catalogue = load_catalogue(args.models)
    except ConfigError:
        log.warning("could not read %s; organization and license columns stay empty", args.models)
    store = Store(settings.database_url)
    rows = leaderboard_rows(store, catalogue, min_votes=args.min_votes)
    store.close()
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["rank", "model", "score", "votes"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        if not rows:
            print("no counted votes yet")
        else:
            width = max(len(r["model"]) for r in rows)
            print(f"{'rank':>4}  {'model':<{width}}  {'score':>7}  {'votes':>6}")
            for r in rows:
                print(f"{r['rank']:>4}  {r['model']:<{width}}  {r['score']:>7.1f}  {r['votes']:>6}")
    return 0


def _check_models(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from arena.pool import ModelPool

    catalogue = load_catalogue(args.models)
    print(f"{args.models}: {len(catalogue.models)} models, valid")
    if not args.probe:
        return 0
    pool = ModelPool(catalogue, settings)
    asyncio.run(pool.refresh())
    failed = 0
    for status in pool.statuses():
        mark = "ok " if status.available else "FAIL"
        failed += 0 if status.available or status.detail == "disabled in models.yaml" else 1
        print(f"{mark} {status.name:<28} {status.detail}")
    return 1 if failed else 0
