"""Row writers for the export files: JSON lines (plain or gzip) and Parquet, in constant memory.

The output kind follows the file name: ``.jsonl``, ``.jsonl.gz`` or ``.parquet``.
JSON lines are written one row at a time (orjson); Parquet in row groups of
a few thousand rows against the format's fixed schema, so every row group
has the same column types whatever the first rows happened to hold.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")


class RowWriter(Protocol):
    def write(self, row: dict) -> None: ...
    def close(self) -> None: ...


class UnsupportedOutput(ValueError):
    pass


def output_kind(path: Path) -> str:
    """``jsonl``, ``jsonl.gz`` or ``parquet`` from the file name; a clear error otherwise."""
    name = path.name.lower()
    for suffix in (".jsonl.gz", ".jsonl", ".parquet"):
        if name.endswith(suffix):
            return suffix[1:]
    raise UnsupportedOutput(f"{path}: the output file must end in {', '.join(SUFFIXES)}")


class JsonLinesWriter:
    """One JSON object per line; rows are joined in batches so each write call carries many of them."""

    def __init__(self, path: Path, *, compress: bool, batch: int = 1000) -> None:
        # Held open across write() calls and closed by close(): no with-block can span them.
        self._handle: io.BufferedIOBase = gzip.open(path, "wb", compresslevel=6) if compress else path.open("wb")  # noqa: SIM115
        self._pending: list[bytes] = []
        self._batch = batch

    def write(self, row: dict) -> None:
        self._pending.append(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        if len(self._pending) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        self._handle.write(b"".join(self._pending))
        self._pending = []

    def close(self) -> None:
        self._flush()
        self._handle.close()


class ParquetWriter:
    def __init__(self, path: Path, schema: pa.Schema, *, rows_per_group: int = 5000) -> None:
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._schema = schema
        self._rows: list[dict] = []
        self._rows_per_group = rows_per_group

    def write(self, row: dict) -> None:
        self._rows.append(row)
        if len(self._rows) >= self._rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def open_writer(path: Path, schema: pa.Schema, kind: str | None = None) -> RowWriter:
    """A writer for *path*; *kind* (``jsonl``, ``jsonl.gz``, ``parquet``) defaults to the one its name says."""
    kind = kind or output_kind(path)
    if kind == "parquet":
        return ParquetWriter(path, schema)
    return JsonLinesWriter(path, compress=kind == "jsonl.gz")
