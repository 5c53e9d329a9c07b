"""How the report commands print: JSON, CSV or a fixed-width table, chosen by ``--format``."""

from __future__ import annotations

import csv
import json
import sys
from typing import Callable


def print_report(form: str, payload: dict, rows: list[dict], empty_fields: list[str], table: Callable[[], str]) -> None:
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
