"""The SQLite database a batch runs in: the schema's tables and the allowed functions.

A fresh in-memory database per batch holds only that batch's rows: a user's SQL can only
ever see the current batch (the security boundary of DESIGN.md section 6).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection, Mapping

from skystream.filters.functions import Stop, register
from skystream.filters.schema import JOIN_KEY, TABLES, TableSchema, sqlite_type


def table_columns(table: TableSchema, only: Collection[str] | None = None) -> list[str]:
    """The table's columns in schema order, restricted to ``only`` (plus the join key)."""
    if only is None:
        return list(table.columns)
    return [c for c in table.columns if c in only or c == JOIN_KEY]


def create_table_sql(table: TableSchema, only: Collection[str] | None = None) -> str:
    """Typed columns, and TEXT compared case-insensitively, as MySQL's default collation does
    (``classification = 'sn'`` matches 'SN' there; it must here too)."""
    cols = []
    for name in table_columns(table, only):
        c = table.columns[name]
        affinity = sqlite_type(c.sql_type)
        cols.append(f'"{c.name}" {affinity}' + (" COLLATE NOCASE" if affinity == "TEXT" else ""))
    return f'CREATE TABLE "{table.name}" ({", ".join(cols)})'


def new_database(clock: Callable[[], float] = time.time,
                 columns: Mapping[str, Collection[str]] | None = None, stop: Stop | None = None) -> sqlite3.Connection:
    """An empty in-memory database with every filter table and function.

    ``columns`` (table -> column names) keeps only the columns the batch's filters read:
    the objects table has ~200 columns, and SQLite decodes a row up to the last column a
    query reads, so fewer, used-first columns make both the load and every scan faster.
    ``stop`` (see ``functions.Stop``) makes every function return NULL while it is set."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for table in TABLES.values():
        conn.execute(create_table_sql(table, None if columns is None else columns.get(table.name, ())))
        conn.execute(f'CREATE INDEX "{table.name}_key" ON "{table.name}" ("{JOIN_KEY}")')
    register(conn, clock, stop)
    return conn


def seal(conn: sqlite3.Connection) -> None:
    """After loading: a filter reads; nothing it could name writes. Belt and braces all the same."""
    conn.execute("PRAGMA query_only = ON")
