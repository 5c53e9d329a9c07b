"""One export, start to finish: stream, filter, format, write, summarise, write the datasheet.

The data file is written under a temporary name and renamed when complete, so
an interrupted export never leaves a half file that looks finished.
"""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from arena.export.datasheet import render_datasheet
from arena.export.formats import Format, get_format
from arena.export.labels import check_labels
from arena.export.part import PartFailed, abandon_part, finish_part, start_part
from arena.export.source import Drops, ExportFilters, count_voted, stream_battles
from arena.export.summary import ExportSummary
from arena.export.writers import open_writer, output_kind
from arena.store import Store

log = logging.getLogger(__name__)


PARALLEL_MIN_BATTLES = 50_000  # from this many voted battles a helper process exports half of them


def run_export(store: Store, format_name: str, out: str | Path, filters: ExportFilters = ExportFilters(), *,
               ties: str = "drop", min_answers: int = 3, progress: bool = False, command: str = "",
               license_id: str = "other", datasheet: bool = True, workers: int = 2) -> ExportSummary:
    """Export the store's votes as *format_name* to *out* (``.jsonl``, ``.jsonl.gz`` or ``.parquet``).

    With *workers* = 2 and enough votes, a helper process (``python -m
    arena.export.part``) exports the older half of the vote ids while this
    process exports the newer half, and the two parts are joined in vote
    order: turning database rows into JSON is bound to one core per process.
    Exports whose rows depend on the whole stream (K-wise grouping, the two
    caps) and Parquet files run in one process.
    """
    out = Path(out)
    kind = output_kind(out)  # fail before any work on a bad file name
    check_labels(store, filters.labels)  # and on a judge without judgements
    fmt = get_format(format_name, ties=ties, min_answers=min_answers, turns=filters.turns)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    total = count_voted(store)
    split = (workers > 1 and total >= PARALLEL_MIN_BATTLES and fmt.order == "vote" and kind != "parquet"
             and not (filters.daily_cap or filters.max_per_prompt) and ":memory:" not in str(store.engine.url))
    with tqdm(total=total, unit="battle", desc=f"export {fmt.name}", disable=not progress) as bar:
        if split:
            middle = _middle_vote_id(store)
            first_path = partial.with_name(partial.name + ".1")
            try:
                helper = start_part(store, format_name, ties, min_answers, filters, (0, middle), first_path)
            except OSError as exc:
                log.warning("export helper process could not start (%s); exporting everything here", exc)
                helper = None
            try:
                summary = export_range(store, fmt, partial, kind, filters, (middle, None), bar.update)
            except BaseException:
                if helper is not None:
                    abandon_part(helper)
                raise
            first = None
            if helper is not None:
                try:
                    first = finish_part(helper)
                    bar.update(first.battles_read)
                except PartFailed as exc:
                    log.warning("%s; exporting its half here", exc)
            if first is None:
                first = export_range(store, fmt, first_path, kind, filters, (0, middle), bar.update)
            _prepend(first.path, partial)
            summary = first.merged_with(summary)
        else:
            summary = export_range(store, fmt, partial, kind, filters, (0, None), bar.update)
    os.replace(partial, out)
    summary.path = out
    if datasheet:
        summary.datasheet = out.parent / "README.md"
        summary.datasheet.write_text(render_datasheet(data_file=out, fmt=fmt, summary=summary, filters=filters,
                                                      command=command or f"python -m arena export --format {format_name} --out {out}",
                                                      license_id=license_id), encoding="utf-8")
    log.info("export %s: %d rows to %s", fmt.name, summary.rows_written, out)
    return summary


def export_range(store: Store, fmt: Format, path: Path, kind: str, filters: ExportFilters, id_range: tuple[int, int | None],
                 on_read: Callable[[int], object] = lambda n: None) -> ExportSummary:
    """Rows of the battles with vote ids in *id_range* written to *path*; removes *path* if interrupted."""
    summary = ExportSummary(format=fmt.name, path=path)
    drops = Drops(summary.drops)

    def read(n: int) -> None:
        summary.battles_read += n
        on_read(n)

    battles = stream_battles(store, filters, drops, order=fmt.order, on_read=read, on_kept=summary.count_kept, id_range=id_range)
    writer = open_writer(path, fmt.schema, kind)
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived dicts would trigger collections over and over; nothing here makes cycles
    try:
        for row in fmt.rows(battles, drops):
            writer.write(row)
            summary.rows_written += 1
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    finally:
        if collecting:
            gc.enable()
    writer.close()
    return summary


def _middle_vote_id(store: Store) -> int:
    from sqlalchemy import func, select

    from arena.tables import Vote

    with store.session() as session:
        low, high = session.execute(select(func.min(Vote.id), func.max(Vote.id))).one()
    return (int(low or 0) + int(high or 0)) // 2


def _prepend(first: Path, target: Path) -> None:
    """Make *target* = *first* followed by *target* (gzip members concatenate into one valid stream)."""
    with first.open("r+b") as head, target.open("rb") as tail:  # not "ab": sendfile refuses O_APPEND
        head.seek(0, os.SEEK_END)
        size = os.fstat(tail.fileno()).st_size
        offset = 0
        while offset < size:
            offset += os.sendfile(head.fileno(), tail.fileno(), offset, size - offset)
    os.replace(first, target)
