"""One export, start to finish: stream, filter, format, write, summarise, write the datasheet.

The data file is written under a temporary name and renamed when complete, so
an interrupted export never leaves a half file that looks finished.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

from tqdm import tqdm

from arena.export.datasheet import render_datasheet
from arena.export.formats import get_format
from arena.export.source import Drops, ExportedBattle, ExportFilters, count_voted, stream_battles
from arena.export.writers import open_writer, output_kind
from arena.store import Store

log = logging.getLogger(__name__)


@dataclass
class ExportSummary:
    format: str
    path: Path
    datasheet: Path | None = None
    rows_written: int = 0
    battles_read: int = 0
    battles_kept: int = 0
    drops: Counter = field(default_factory=Counter)
    per_model: Counter = field(default_factory=Counter)
    per_winner: Counter = field(default_factory=Counter)
    first_vote: datetime | None = None
    last_vote: datetime | None = None

    def lines(self) -> list[str]:
        """The summary as printed by the CLI."""
        out = [f"wrote {self.rows_written:,} {self.format} rows to {self.path}",
               f"read {self.battles_read:,} voted battles, {self.battles_kept:,} passed the filters"]
        out += [f"  dropped {n:,}: {reason}" for reason, n in sorted(self.drops.items(), key=lambda kv: -kv[1])]
        if self.datasheet:
            out.append(f"datasheet: {self.datasheet}")
        return out


def run_export(store: Store, format_name: str, out: str | Path, filters: ExportFilters = ExportFilters(), *,
               ties: str = "drop", min_answers: int = 3, progress: bool = False, command: str = "",
               license_id: str = "other", datasheet: bool = True) -> ExportSummary:
    """Export the store's votes as *format_name* to *out* (``.jsonl``, ``.jsonl.gz`` or ``.parquet``)."""
    out = Path(out)
    kind = output_kind(out)  # fail before any work on a bad file name
    fmt = get_format(format_name, ties=ties, min_answers=min_answers)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    summary = ExportSummary(format=fmt.name, path=out)
    drops = Drops(summary.drops)
    total = count_voted(store)
    with tqdm(total=total, unit="battle", desc=f"export {fmt.name}", disable=not progress) as bar:
        def on_read(n: int) -> None:
            summary.battles_read += n
            bar.update(n)

        battles = _tally(stream_battles(store, filters, drops, order=fmt.order, on_read=on_read), summary)
        writer = open_writer(partial, fmt.schema, kind)
        try:
            for row in fmt.rows(battles, drops):
                writer.write(row)
                summary.rows_written += 1
        except BaseException:
            writer.close()
            partial.unlink(missing_ok=True)
            raise
        writer.close()
    os.replace(partial, out)
    if datasheet:
        summary.datasheet = out.parent / "README.md"
        summary.datasheet.write_text(render_datasheet(data_file=out, fmt=fmt, summary=summary, filters=filters,
                                                      command=command or f"python -m arena export --format {format_name} --out {out}",
                                                      license_id=license_id), encoding="utf-8")
    log.info("export %s: %d rows to %s", fmt.name, summary.rows_written, out)
    return summary


def _tally(battles: Iterable[ExportedBattle], summary: ExportSummary) -> Iterator[ExportedBattle]:
    """Count the battles that passed the filters (per model, per winner, date range) as they stream by."""
    for battle in battles:
        summary.battles_kept += 1
        summary.per_model[battle.model_a] += 1
        summary.per_model[battle.model_b] += 1
        summary.per_winner[battle.winner] += 1
        if summary.first_vote is None or battle.voted_at < summary.first_vote:
            summary.first_vote = battle.voted_at
        if summary.last_vote is None or battle.voted_at > summary.last_vote:
            summary.last_vote = battle.voted_at
        yield battle
