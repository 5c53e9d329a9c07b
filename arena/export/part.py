"""The second part of a two-part export, run by a helper process (:mod:`arena.export.helper`) on one range of vote ids.

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
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.export.source import ExportFilters
from arena.export.summary import ExportSummary

if TYPE_CHECKING:
    from arena.store import Store


class PartFailed(RuntimeError):
    pass


class PartProcess(subprocess.Popen[str]):
    """The helper process, knowing the part file it writes (removed if the part fails)."""

    job_path: Path


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
    for name in ("models", "exclude_models", "exclude_judges"):
        if values.get(name) is not None:
            values[name] = frozenset(values[name])
    return ExportFilters(**values)


def start_part(store: Store, format_name: str, ties: str, min_answers: int, filters: ExportFilters,
               id_range: tuple[int, int | None], path: Path) -> PartProcess:
    """Start the helper on *id_range*, writing *path*; :func:`finish_part` waits for it."""
    job = {"url": store.engine.url.render_as_string(hide_password=False), "format": format_name, "ties": ties,
           "min_answers": min_answers, "filters": filters_to_json(filters), "id_range": list(id_range), "path": str(path),
           "long_prompt_tokens": store.long_prompt_tokens}
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    helper = PartProcess([sys.executable, "-m", "arena.export.helper"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, text=True)
    helper.job_path = path
    assert helper.stdin is not None, "opened with PIPE"
    try:
        helper.stdin.write(json.dumps(job))
        helper.stdin.close()
    except OSError:  # it died at once (finish_part reports why)
        pass
    helper.stdin = None  # closed: communicate() must not touch it
    return helper


def finish_part(helper: PartProcess) -> ExportSummary:
    """The helper's summary once it is done; :class:`PartFailed` (with its error output) if it failed."""
    output, errors = helper.communicate()
    if helper.returncode != 0:
        helper.job_path.unlink(missing_ok=True)
        raise PartFailed(f"the export helper process failed:\n{errors.strip()[-2000:]}")
    return ExportSummary.from_json(json.loads(output.strip().splitlines()[-1]))


def abandon_part(helper: PartProcess) -> None:
    """Stop the helper (the export failed or was interrupted) and remove its part file."""
    helper.kill()
    helper.wait()
    helper.job_path.unlink(missing_ok=True)
