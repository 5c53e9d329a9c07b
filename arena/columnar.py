"""Reading millions of rows column-wise: ADBC (Arrow) on PostgreSQL.

The leaderboard's per-vote paths (style control, online Elo) and its counts
read many rows but few columns; Arrow avoids one Python object per value. String
columns stay dictionary-encoded (codes plus a short list of labels), which is
what the ratings need anyway. The encoding itself (:class:`~arena.coded.Coded`)
is pure and lives in :mod:`arena.coded`; this module is the SQL side.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPICursor

from arena.coded import Coded, encode

log = logging.getLogger(__name__)


def raw_cursor(conn: Connection) -> DBAPICursor:
    """The driver's own cursor on *conn*, for reads too large for SQLAlchemy's row objects."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None, "a connection checked out of the pool has its DB-API connection"
    return dbapi.cursor()


def column_values(column: Any) -> Any:
    """An Arrow column as numpy (numbers) or :class:`Coded` (strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        encoded = pc.dictionary_encode(column).combine_chunks()
        return Coded(encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist())
    return column.to_numpy()


def read_arrow(engine: Engine, query: Any) -> Any:
    """Run a SQLAlchemy *query* through ADBC and return an Arrow table, or None when no ADBC driver fits."""
    try:
        # Not for SQLite: ADBC bundles its own SQLite build, and two builds sharing one WAL
        # database's shared-memory index produced "disk I/O error" and stale reads here.
        if engine.dialect.name == "postgresql":
            import adbc_driver_postgresql.dbapi as adbc

            target = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        else:
            return None
    except ImportError:
        return None
    sql = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    try:
        with adbc.connect(target) as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetch_arrow_table()
    except Exception as exc:  # noqa: BLE001 - ADBC errors share no base class: fall back to the DB-API path rather than fail a leaderboard
        log.warning("ADBC read failed (%s); using the DB-API cursor", exc)
        return None


def read_columns(engine: Engine, query: Any, names: list[str], *, chunk: int = 200_000) -> dict[str, Any]:
    """Run *query* and return its columns: numpy arrays for numbers, :class:`Coded` for strings.

    PostgreSQL goes through ADBC (Arrow). Elsewhere the driver's own cursor is
    used with the garbage collector paused (millions of fresh tuples would
    otherwise trigger full collections over and over), converting each chunk
    to arrays and codes as it arrives so no list of millions of objects builds up.
    """
    table = read_arrow(engine, query)
    if table is not None:
        return {name: column_values(table.column(i)) for i, name in enumerate(names)}
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})  # IN lists as plain parameters
    parameters = compiled.construct_params()
    positional = [parameters[name] for name in compiled.positiontup] if compiled.positional else parameters
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    indexes: dict[str, dict[str, int]] = {}
    collecting = gc.isenabled()
    gc.disable()
    try:
        with engine.connect() as conn:
            cursor = raw_cursor(conn)
            try:
                cursor.execute(str(compiled), positional)
                while rows := cursor.fetchmany(chunk):
                    for name, values in zip(names, zip(*rows)):
                        if isinstance(values[0], str) or name in indexes:
                            index = indexes.setdefault(name, {})
                            parts[name].append(np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values)))
                        else:
                            parts[name].append(np.asarray(values))
            finally:
                cursor.close()
    finally:
        if collecting:
            gc.enable()
    out: dict[str, Any] = {}
    for name in names:
        if name in indexes:
            codes = np.concatenate(parts[name]) if parts[name] else np.zeros(0, dtype=np.int64)
            out[name] = Coded(codes, list(indexes[name]))
        else:
            out[name] = np.concatenate(parts[name]) if parts[name] else np.zeros(0)
    return out


__all__ = ["Coded", "column_values", "encode", "raw_cursor", "read_arrow", "read_columns"]  # Coded, encode: re-exported from arena.coded
