"""The helper process of a two-part export: ``python -m arena.export.helper`` exports one range of vote ids.

The job arrives as JSON on stdin (database URL, format, filters, id range,
part file) and the part's summary leaves as JSON on stdout. A new interpreter,
never a fork: the caller may be a threaded web server. :mod:`arena.export.part`
starts it and reads its answer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from arena.export.formats import get_format
from arena.export.part import filters_from_json
from arena.export.run import export_range
from arena.export.writers import output_kind
from arena.store import Store


def main() -> None:
    job = json.loads(sys.stdin.read())
    store = Store(job["url"], migrate=False, long_prompt_tokens=job["long_prompt_tokens"])
    filters = filters_from_json(job["filters"])
    fmt = get_format(job["format"], ties=job["ties"], min_answers=job["min_answers"], turns=filters.turns)
    path = Path(job["path"])
    low, high = job["id_range"]
    kind = output_kind(Path(path.name.removesuffix(".partial.1")))
    summary = export_range(store, fmt, path, kind, filters, (low, high))
    store.close()
    sys.stdout.write(json.dumps(summary.to_json()) + "\n")


if __name__ == "__main__":
    main()
