"""The helper process of a two-part export: ``python -m arena.export.part`` exports one range of vote ids.

The job arrives as JSON on stdin (database URL, format, filters, id range,
part file) and the part's summary leaves as JSON on stdout. A new interpreter,
never a fork: the caller may be a threaded web server.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.export.source import ExportFilters

if TYPE_CHECKING:
    from arena.export.run import ExportSummary
    from arena.store import Store


class PartFailed(RuntimeError):
    pass


def filters_to_json(filters: ExportFilters) -> dict[str, Any]:
    out = {}
    for field in dataclasses.fields(filters):
        value = getattr(filters, field.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, frozenset):
            value = sorted(value)
        out[field.name] = value
    return out


def filters_from_json(data: dict[str, Any]) -> ExportFilters:
    values = dict(data)
    for name in ("since", "until"):
        if values.get(name):
            values[name] = datetime.fromisoformat(values[name])
    for name in ("models", "exclude_models"):
        if values.get(name) is not None:
            values[name] = frozenset(values[name])
    return ExportFilters(**values)


def start_part(store: Store, format_name: str, ties: str, min_answers: int, filters: ExportFilters,
               id_range: tuple[int, int | None], path: Path) -> subprocess.Popen:
    """Start the helper on *id_range*, writing *path*; :func:`finish_part` waits for it."""
    job = {"url": store.engine.url.render_as_string(hide_password=False), "format": format_name, "ties": ties,
           "min_answers": min_answers, "filters": filters_to_json(filters), "id_range": list(id_range), "path": str(path),
           "long_prompt_tokens": store.long_prompt_tokens}
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    helper = subprocess.Popen([sys.executable, "-m", "arena.export.part"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, text=True)
    helper.job_path = path  # type: ignore[attr-defined]
    try:
        helper.stdin.write(json.dumps(job))
        helper.stdin.close()
    except OSError:  # it died at once (finish_part reports why)
        pass
    helper.stdin = None  # closed: communicate() must not touch it
    return helper


def finish_part(helper: subprocess.Popen) -> ExportSummary:
    """The helper's summary once it is done; :class:`PartFailed` (with its error output) if it failed."""
    from arena.export.run import ExportSummary

    output, errors = helper.communicate()
    if helper.returncode != 0:
        Path(helper.job_path).unlink(missing_ok=True)  # type: ignore[attr-defined]
        raise PartFailed(f"the export helper process failed:\n{errors.strip()[-2000:]}")
    data = json.loads(output.strip().splitlines()[-1])
    return ExportSummary(
        format=data["format"], path=Path(data["path"]), rows_written=data["rows_written"], battles_read=data["battles_read"],
        battles_kept=data["battles_kept"], drops=Counter(data["drops"]), per_model=Counter(data["per_model"]),
        per_winner=Counter(data["per_winner"]),
        first_vote=datetime.fromisoformat(data["first_vote"]) if data["first_vote"] else None,
        last_vote=datetime.fromisoformat(data["last_vote"]) if data["last_vote"] else None,
    )


def abandon_part(helper: subprocess.Popen) -> None:
    """Stop the helper (the export failed or was interrupted) and remove its part file."""
    helper.kill()
    helper.wait()
    Path(helper.job_path).unlink(missing_ok=True)  # type: ignore[attr-defined]


def _main() -> None:
    from arena.export.formats import get_format
    from arena.export.run import export_range
    from arena.export.writers import output_kind
    from arena.store import Store

    job = json.loads(sys.stdin.read())
    store = Store(job["url"], migrate=False, long_prompt_tokens=job["long_prompt_tokens"])
    fmt = get_format(job["format"], ties=job["ties"], min_answers=job["min_answers"])
    path = Path(job["path"])
    low, high = job["id_range"]
    kind = output_kind(Path(path.name.removesuffix(".partial.1")))
    summary = export_range(store, fmt, path, kind, filters_from_json(job["filters"]), (low, high))
    store.close()
    print(json.dumps({
        "format": summary.format, "path": str(summary.path), "rows_written": summary.rows_written,
        "battles_read": summary.battles_read, "battles_kept": summary.battles_kept, "drops": dict(summary.drops),
        "per_model": dict(summary.per_model), "per_winner": dict(summary.per_winner),
        "first_vote": summary.first_vote.isoformat() if summary.first_vote else None,
        "last_vote": summary.last_vote.isoformat() if summary.last_vote else None,
    }))


if __name__ == "__main__":
    _main()
