"""Reading context rows from a file or request body (JSON lines, a JSON array, or CSV) and checking them.

Columns are checked against the filter schema (``skystream.filters.schema.TABLES``), the
same list filters are checked against, so every loaded column is joinable and a typo is
refused with the allowed names rather than silently dropped. CSV cells are typed by that
schema (empty cell = NULL); JSON values are kept as given.

Two of Lasair's crossmatch_tns columns are the broker's own, so the loader fills them when a
row does not give them (:func:`broker_columns`): ``htm16``, the HTM level-16 index of the TNS
position (the same function as objects.htm16), and ``lasairmodified_date``, when it was loaded.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skystream.domain.bounds import is_number
from skystream.domain.errors import ContextFileError
from skystream.features.position import htm_index
from skystream.filters.schema import TABLES
from skystream.ports import ContextWriter
from skystream.storage.context import CONTEXT_TABLES, check_table

INTEGER_TYPES = ("INT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT")
REAL_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")


def column_types(table: str) -> dict[str, str]:
    """Column name -> SQL type of a context table, from the filter schema."""
    check_table(table)
    return {name: column.sql_type.upper() for name, column in TABLES[table].columns.items()}


def table_for(path: Path, table: str | None) -> str:
    """The table named explicitly, or the one the file name starts with (``sherlock_classifications.csv``)."""
    if table:
        return check_table(table)
    for name in CONTEXT_TABLES:
        if path.name.startswith(name):
            return name
    raise ContextFileError(f"cannot tell the table from the file name {path.name!r}; "
                           f"give --table {' or '.join(CONTEXT_TABLES)}")


def _typed(value: str, sql_type: str, where: str) -> Any:
    if value.strip() == "" or value.strip().upper() == "NULL":
        return None
    base = sql_type.split("(")[0]
    try:
        if base in INTEGER_TYPES:
            return int(value)
        if base in REAL_TYPES:
            return float(value)
    except ValueError as exc:
        raise ContextFileError(f"{where}: {value!r} is not a {base} value") from exc
    return value


def parse_rows(text: str, fmt: str) -> list[dict[str, Any]]:
    """``fmt`` is ``csv`` or ``json`` (JSON lines, one JSON array of objects, or ``{"rows": [...]}``)."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = []
        for n, row in enumerate(reader, start=2):
            if None in row:
                raise ContextFileError(f"CSV line {n}: more cells than header columns")
            rows.append({k.strip(): v for k, v in row.items()})
        return rows
    if fmt != "json":
        raise ContextFileError(f"unknown format {fmt!r}; use csv or json")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:  # one envelope object {"rows": [...]}; anything else starting with "{" is JSON lines
            whole = json.loads(stripped)
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, dict) and isinstance(whole.get("rows"), list):
            stripped = json.dumps(whole["rows"])
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ContextFileError(f"not valid JSON: {exc}") from exc
        if not all(isinstance(r, dict) for r in data):
            raise ContextFileError("a JSON array of context rows must hold only objects")
        return data
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ContextFileError(f"line {n}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise ContextFileError(f"line {n}: expected a JSON object per line")
        rows.append(row)
    return rows


def check_rows(table: str, rows: Iterable[dict[str, Any]], *, from_text: bool) -> list[dict[str, Any]]:
    """Rows with known columns only and an integer diaObjectId; CSV text typed by the schema."""
    types = column_types(table)
    checked: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - set(types))
        if unknown:
            raise ContextFileError(f"row {n}: {table} has no column {', '.join(unknown)}; "
                                   f"its columns are {', '.join(types)}")
        if from_text:
            row = {k: _typed(v, types[k], f"row {n}, column {k}") if isinstance(v, str) else v for k, v in row.items()}
        object_id = row.get("diaObjectId")
        if isinstance(object_id, str) and object_id.isdigit():
            object_id = int(object_id)
        if isinstance(object_id, bool) or not isinstance(object_id, int):
            raise ContextFileError(f"row {n}: diaObjectId must be an integer, got {object_id!r}")
        if not 0 < object_id <= 2**63 - 1:  # what DynamoDB, SQLite and the objects route can all hold
            raise ContextFileError(f"row {n}: diaObjectId {object_id} is outside 1 to {2**63 - 1} (signed 64 bits)")
        checked.append({**row, "diaObjectId": object_id})
    return checked


def broker_columns(table: str, rows: Iterable[dict[str, Any]], loaded_at: datetime) -> list[dict[str, Any]]:
    """crossmatch_tns rows with ``htm16`` (from ra, decl) and ``lasairmodified_date`` (``loaded_at``) where missing.

    A position that is not a finite ra and a decl within +-90 degrees gets no htm16 (NULL), never a guess."""
    if table != "crossmatch_tns":
        return list(rows)
    stamp = loaded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    out = []
    for row in rows:
        extra: dict[str, Any] = {}
        ra, decl = row.get("ra"), row.get("decl")
        if (row.get("htm16") is None and is_number(ra) and is_number(decl) and math.isfinite(ra)
                and math.isfinite(decl) and -90.0 <= decl <= 90.0):
            extra["htm16"] = htm_index(float(ra), float(decl))
        if row.get("lasairmodified_date") is None:
            extra["lasairmodified_date"] = stamp
        out.append({**row, **extra})
    return out


def format_of(path: Path) -> str:
    return "csv" if path.suffix.lower() == ".csv" else "json"


def load_text(table: str, text: str, fmt: str, store: ContextWriter, *, now: datetime | None = None) -> int:
    """Parse, check and store rows; returns how many objects got a row. Nothing is stored if any row is bad."""
    rows = check_rows(check_table(table), parse_rows(text, fmt), from_text=fmt == "csv")
    return store.put_rows(table, broker_columns(table, rows, now or datetime.now(UTC)))


def load_file(path: Path, store: ContextWriter, table: str | None = None) -> tuple[str, int]:
    """``skystream context load FILE``: (table, rows stored)."""
    name = table_for(path, table)
    return name, load_text(name, path.read_text(encoding="utf-8"), format_of(path), store)
