"""The history engine on DuckDB (embedded): the local default, reading the history's Parquet files.

Per query a fresh in-memory connection with one view per history table over its local copy
(``HistoryFiles.local_dir``: ``night=N/*.parquet``, Hive partitioning gives the ``night`` column), or an empty
typed table while a table has no file yet. No httpfs: DuckDB would download the extension, and the files come
through ``HistoryFiles`` (which fetches them from the local AWS endpoint or S3).

The filter functions a translated statement calls (``ss_<name>__<kinds>``, :mod:`skystream.history.dialects`)
are registered as UDFs running the matcher's own implementations. The time limit holds by
``connection.interrupt()`` from a timer. Errors: an integer leaving 64 bits (SQLite goes on in floating point,
DuckDB stops) is ``HistoryUnsupported``; any other engine error or the time limit is ``HistoryQueryFailed``.
"""

from __future__ import annotations

import glob
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import duckdb

from skystream.domain.errors import HistoryQueryFailed, HistoryUnsupported
from skystream.history.dialects import INT64_MAX, INT64_MIN, udf_names, udf_spec, with_arity
from skystream.history.parquet import DUCKDB_TYPES
from skystream.history.schema import HISTORY_TABLES, OBJECTS_HISTORY, HistoryTable
from skystream.ports import HistoryFiles

# What DuckDB raises when a value leaves what its types hold (an INT64 sum past 2^63, a cast of a real too
# big for BIGINT): where SQLite would go on in floating point. Told apart by type, never by message.
_OUT_OF_RANGE: tuple[type[Exception], ...] = (duckdb.OutOfRangeException, duckdb.ConversionException)


class DuckDbHistory:
    """HistoryEngine over local Parquet copies of the history (dialect "duckdb")."""

    dialect: Literal["duckdb", "trino"] = "duckdb"

    def __init__(self, files: HistoryFiles, *, threads: int | None = None) -> None:
        self.files = files
        self.threads = threads

    def nights(self) -> list[int]:
        return self.files.nights(OBJECTS_HISTORY.name)

    def query(self, sql: str, *, time_limit_s: float) -> list[dict[str, Any]]:
        conn = duckdb.connect(":memory:")
        overflow = threading.Event()  # set by a UDF whose integer result BIGINT cannot hold
        try:
            try:
                self._prepare(conn, sql, overflow)
            except duckdb.Error as exc:  # a file of the history that DuckDB cannot read
                raise HistoryQueryFailed(f"the history engine (DuckDB) could not read the history's files: "
                                         f"{self._as_keys(str(exc))}") from None
            try:
                rows = self._run(conn, sql, time_limit_s)
            except HistoryQueryFailed:
                if overflow.is_set():
                    raise _overflowed() from None
                raise
            if overflow.is_set():
                raise _overflowed()
            return rows
        finally:
            conn.close()

    def _as_keys(self, text: str) -> str:
        """An engine message with the local copies' paths written as the history's keys (``history/<table>``):
        the user sees where the file is in the bucket, not a path of this machine."""
        for table in HISTORY_TABLES.values():
            text = text.replace(self.files.local_dir(table.name).rstrip("/"), table.prefix().rstrip("/"))
        return text

    def _prepare(self, conn: duckdb.DuckDBPyConnection, sql: str, overflow: threading.Event) -> None:
        conn.execute("SET error_on_division_by_zero = false")
        if self.threads:
            conn.execute(f"SET threads = {int(self.threads)}")
        for table in HISTORY_TABLES.values():
            if table.name in sql:  # only the tables the statement names: each may bring its local copy up to date
                conn.execute(f'CREATE VIEW "{table.name}" AS {self._source(table)}')
        for name in sorted(udf_names(sql)):
            spec = udf_spec(name)
            impl = (with_arity(_bigint_guard(spec.impl, overflow), len(spec.parameters))
                    if spec.return_type == "BIGINT" else spec.impl)
            conn.create_function(name, impl, [duckdb.sqltype(t) for t in spec.parameters],
                                 duckdb.sqltype(spec.return_type), null_handling="special", side_effects=False)

    def _source(self, table: HistoryTable) -> str:
        directory = self.files.local_dir(table.name)
        if glob.glob(os.path.join(directory, "night=*", "*.parquet")):
            pattern = os.path.join(directory, "*", "*.parquet").replace("'", "''")
            return f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
        columns = ", ".join(f'CAST(NULL AS {DUCKDB_TYPES[c.sql_type]}) AS "{c.name}"' for c in table.columns)
        return f'SELECT {columns}, CAST(NULL AS BIGINT) AS "night" WHERE FALSE'

    def _run(self, conn: duckdb.DuckDBPyConnection, sql: str, time_limit_s: float) -> list[dict[str, Any]]:
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            conn.interrupt()

        timer = threading.Timer(time_limit_s, stop)
        start = time.monotonic()
        timer.start()
        try:
            cursor = conn.execute(sql)
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except duckdb.Error as exc:
            elapsed = time.monotonic() - start
            if fired.is_set():
                raise HistoryQueryFailed(f"the history query ran past its time limit of {time_limit_s:g} s (stopped "
                                         f"after {elapsed:.1f} s); narrow the filter or ask for fewer nights") from None
            if isinstance(exc, _OUT_OF_RANGE):
                raise _overflowed(str(exc)) from None
            raise HistoryQueryFailed(f"the history engine (DuckDB) failed: {self._as_keys(str(exc))}") from None
        finally:
            timer.cancel()


def _overflowed(detail: str = "a function's integer result") -> HistoryUnsupported:
    return HistoryUnsupported(f"an integer in the filter left the 64-bit range over the history ({detail}): the "
                              "matcher would go on in floating point; the history refuses rather than answer "
                              "differently", None)


def _bigint_guard(impl: Callable[..., Any], overflow: threading.Event) -> Callable[..., Any]:
    """``impl`` for a UDF DuckDB reads as BIGINT: a result BIGINT cannot hold (the matcher's CEIL(1e308) is a
    real) sets ``overflow`` and gives NULL, and the query is then refused (see :meth:`DuckDbHistory.query`)."""

    def guarded(*args: Any) -> Any:
        value = impl(*args)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, float) and not (math.isfinite(value) and value == int(value)):
            overflow.set()
            return None
        if not INT64_MIN <= int(value) <= INT64_MAX:
            overflow.set()
            return None
        return value

    return guarded
