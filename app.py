"""Starling Arena entry point: ``python app.py [--models PATH] [--host H] [--port P]``.

The database URL comes from ARENA_DATABASE_URL (default: SQLite under db/).
Everything else is ``python -m arena …``.
"""

from __future__ import annotations

import argparse
import sys

from arena.cli import add_serve_arguments, main


def run() -> int:
    parser = argparse.ArgumentParser(description="Start the Starling Arena web app.")
    add_serve_arguments(parser)
    args = parser.parse_args()
    return main(["serve", "--models", args.models, "--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    sys.exit(run())
