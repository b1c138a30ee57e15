"""The SQLite database a batch runs in: the schema's tables and the allowed functions.

A fresh in-memory database per batch holds only that batch's rows: a user's SQL can only
ever see the current batch (the security boundary of DESIGN.md section 6).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from skystream.filters.functions import register
from skystream.filters.schema import JOIN_KEY, TABLES, TableSchema, sqlite_type


def create_table_sql(table: TableSchema) -> str:
    """Typed columns, and TEXT compared case-insensitively, as MySQL's default collation does
    (``classification = 'sn'`` matches 'SN' there; it must here too)."""
    cols = []
    for c in table.columns.values():
        affinity = sqlite_type(c.sql_type)
        cols.append(f'"{c.name}" {affinity}' + (" COLLATE NOCASE" if affinity == "TEXT" else ""))
    return f'CREATE TABLE "{table.name}" ({", ".join(cols)})'


def new_database(clock: Callable[[], float] = time.time) -> sqlite3.Connection:
    """An empty in-memory database with every filter table and function."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for table in TABLES.values():
        conn.execute(create_table_sql(table))
        conn.execute(f'CREATE INDEX "{table.name}_key" ON "{table.name}" ("{JOIN_KEY}")')
    register(conn, clock)
    return conn


def seal(conn: sqlite3.Connection) -> None:
    """After loading: a filter reads; nothing it could name writes. Belt and braces all the same."""
    conn.execute("PRAGMA query_only = ON")
