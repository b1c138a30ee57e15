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
import os
import threading
import time
from typing import Any, Literal

import duckdb

from skystream.domain.errors import HistoryQueryFailed, HistoryUnsupported
from skystream.history.dialects import udf_names, udf_spec
from skystream.history.schema import HISTORY_TABLES, OBJECTS_HISTORY, HistoryTable
from skystream.ports import HistoryFiles

_DUCK_TYPE = {"BIGINT": "BIGINT", "INTEGER": "INTEGER", "DOUBLE": "DOUBLE", "TEXT": "VARCHAR"}
# DuckDB's words for an integer past 64 bits: arithmetic ("Overflow in multiplication of INT64"), a UDF's result
# ("Value out of range for type BIGINT", "... is out of range for the destination type INT64")
_OVERFLOW_WORDS = ("overflow in", "out of range")


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
        try:
            self._prepare(conn, sql)
            return self._run(conn, sql, time_limit_s)
        finally:
            conn.close()

    def _prepare(self, conn: duckdb.DuckDBPyConnection, sql: str) -> None:
        conn.execute("SET error_on_division_by_zero = false")
        if self.threads:
            conn.execute(f"SET threads = {int(self.threads)}")
        for table in HISTORY_TABLES.values():
            if table.name in sql:  # only the tables the statement names: each may bring its local copy up to date
                conn.execute(f'CREATE VIEW "{table.name}" AS {self._source(table)}')
        for name in sorted(udf_names(sql)):
            spec = udf_spec(name)
            conn.create_function(name, spec.impl, [duckdb.sqltype(t) for t in spec.parameters],
                                 duckdb.sqltype(spec.return_type), null_handling="special", side_effects=False)

    def _source(self, table: HistoryTable) -> str:
        directory = self.files.local_dir(table.name)
        if glob.glob(os.path.join(directory, "night=*", "*.parquet")):
            pattern = os.path.join(directory, "*", "*.parquet").replace("'", "''")
            return f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
        columns = ", ".join(f'CAST(NULL AS {_DUCK_TYPE[c.sql_type]}) AS "{c.name}"' for c in table.columns)
        return f'SELECT {columns}, CAST(NULL AS BIGINT) AS "night" WHERE FALSE'

    @staticmethod
    def _run(conn: duckdb.DuckDBPyConnection, sql: str, time_limit_s: float) -> list[dict[str, Any]]:
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
            text = str(exc)
            if any(word in text.lower() for word in _OVERFLOW_WORDS):
                raise HistoryUnsupported(f"an integer in the filter left the 64-bit range over the history ({text}): "
                                         "the matcher would go on in floating point; the history refuses rather than "
                                         "answer differently", None) from None
            raise HistoryQueryFailed(f"the history engine (DuckDB) failed: {text}") from None
        finally:
            timer.cancel()
