"""History rows to Parquet files and back, with DuckDB (no pyarrow).

Why DuckDB: the engine the local stack queries with anyway, one 2.0 wheel with no dependencies, where
pyarrow alone is larger than Lambda's layer limit allows beside the core layer (docs/history.md,
"Storage format"). How: the rows go to a newline-delimited JSON file (orjson: NaN and infinities
written as null), and one ``COPY (SELECT ... FROM read_json(..., columns={typed}) ORDER BY <sort key>)
TO 'f.parquet' (FORMAT parquet, COMPRESSION zstd)`` types, sorts and writes them. Measured in
``benchmarks/history_write.py`` (BENCHMARKS.md, "History, issue 17").

Files are sorted by the table's ``sort_key`` (the sky pixel first for the two per-alert tables), so
each row group covers a small patch of sky and a cone query skips most of them by their min/max.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import orjson

from skystream.history.schema import HistoryTable

DUCKDB_TYPES = {"BIGINT": "BIGINT", "INTEGER": "INTEGER", "DOUBLE": "DOUBLE", "TEXT": "VARCHAR"}
COMPRESSION = "zstd"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _listing(files: Sequence[str]) -> str:
    """A DuckDB list literal of file paths."""
    return "[" + ", ".join(_literal(f) for f in files) + "]"


def _columns_struct(table: HistoryTable) -> str:
    return "{" + ", ".join(f"{_literal(c.name)}: {_literal(DUCKDB_TYPES[c.sql_type])}" for c in table.columns) + "}"


def _select_list(table: HistoryTable) -> str:
    return ", ".join(_quote(c.name) for c in table.columns)


def _order_by(table: HistoryTable) -> str:
    return ", ".join(f"{_quote(name)} NULLS LAST" for name in table.sort_key)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET threads TO 1")  # one core per function call; also keeps the row order deterministic
    con.execute("SET preserve_insertion_order = true")
    return con


def write_parquet(table: HistoryTable, rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write ``rows`` (each with ``table``'s columns; extra keys ignored) to ``path``, sorted; returns the count."""
    names = table.column_names
    with tempfile.NamedTemporaryFile("wb", suffix=".ndjson", delete=False) as out:
        staged = out.name
        out.write(b"\n".join(orjson.dumps({n: row.get(n) for n in names}) for row in rows))
    try:
        con = _connect()
        try:
            con.execute(
                f"COPY (SELECT {_select_list(table)} FROM read_json({_literal(staged)}, format='newline_delimited', "
                f"columns={_columns_struct(table)}) ORDER BY {_order_by(table)}) "
                f"TO {_literal(str(path))} (FORMAT parquet, COMPRESSION {COMPRESSION})")
        finally:
            con.close()
    finally:
        os.unlink(staged)
    return len(rows)


def merge_parquet(table: HistoryTable, sources: Iterable[str | os.PathLike[str]], path: str | os.PathLike[str]) -> int:
    """Rewrite ``sources`` (files of ``table``) as one file at ``path``: one row per unique key, sorted.

    Of rows sharing a key (a batch written twice) the one from the last source in ``sources`` is kept.
    Returns the number of rows written.
    """
    files = [str(p) for p in sources]
    if not files:
        raise ValueError("merge_parquet needs at least one file")
    listing = _listing(files)
    key = ", ".join(_quote(k) for k in table.unique_key)
    con = _connect()
    try:
        con.execute(
            f"COPY (SELECT {_select_list(table)} FROM ("
            f"SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY file_index DESC) AS _copy "
            f"FROM (SELECT * EXCLUDE (filename), list_position({listing}, filename) AS file_index "
            f"FROM read_parquet({listing}, filename = true, union_by_name = true))) "
            f"WHERE _copy = 1 ORDER BY {_order_by(table)}) "
            f"TO {_literal(str(path))} (FORMAT parquet, COMPRESSION {COMPRESSION})")
        (count,) = con.execute(f"SELECT count(*) FROM read_parquet({_literal(str(path))})").fetchone()
    finally:
        con.close()
    return int(count)


def read_parquet(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Every row of ``paths``, in file order (for tests, compaction checks and the benchmark)."""
    files = [str(p) for p in paths]
    if not files:
        return []
    con = _connect()
    try:
        cursor = con.execute(f"SELECT * FROM read_parquet({_listing(files)})")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def row_counts(paths: Iterable[str | os.PathLike[str]]) -> dict[str, int]:
    """Rows per file, from the Parquet footers alone (no data read)."""
    files = [str(p) for p in paths]
    if not files:
        return {}
    con = _connect()
    try:
        found = con.execute(f"SELECT file_name, num_rows FROM parquet_file_metadata({_listing(files)})").fetchall()
    finally:
        con.close()
    return {str(Path(name)): int(rows) for name, rows in found}
