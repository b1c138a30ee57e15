"""Run many compiled filters over one batch: one fresh in-memory SQLite database per batch.

Each filter runs with a time limit (SQLite's progress handler interrupts it) and a row cap.
A filter that errors or runs out of time is reported in its outcome and logged with its id;
the other filters still run. This is the engine's whole interface (compile once elsewhere,
``run`` per batch), so a faster evaluator can sit beside it and be tested against it.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from skystream.filters.batch import BatchRows
from skystream.filters.compiler import ROW_CAP, CompiledFilter
from skystream.filters.database import new_database, seal, table_columns
from skystream.filters.schema import TABLES

logger = Logger(service="skystream")

PROGRESS_EVERY = 1000  # SQLite VM instructions between time-limit checks


@dataclass
class FilterOutcome:
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    truncated: bool = False
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out


def _json_default(value: Any) -> Any:
    """DynamoDB hands back numbers inside documents as Decimal: keep them numbers in the JSON."""
    if isinstance(value, Decimal):
        return sql_value(value)
    return str(value)


def sql_value(value: Any) -> Any:
    """A Python/DynamoDB value as SQLite stores it (Decimal -> float, JSON docs -> text, NaN -> NULL)."""
    if value is None or isinstance(value, str | int):
        return int(value) if isinstance(value, bool) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_default)
    if isinstance(value, bytes):
        return value
    return str(value)


def columns_needed(filters: Sequence[CompiledFilter]) -> dict[str, set[str]] | None:
    """Table -> columns any of the filters reads (tables none reads are absent); None when one
    of them does not say."""
    needed: dict[str, set[str]] = {}
    for compiled in filters:
        if compiled.columns is None:
            return None
        for table, column in compiled.columns:
            needed.setdefault(table, set()).add(column)
    if "annotations" in needed:
        needed["annotations"] |= {"annotator", "topic"}
    return needed


def load(conn: sqlite3.Connection, batch: BatchRows, columns: Mapping[str, Collection[str]] | None = None) -> None:
    """Insert the batch's rows; keys not in the schema are ignored, missing keys are NULL."""
    for name, table in TABLES.items():
        rows = batch.table(name)
        if not rows or (columns is not None and name not in columns):
            continue
        cols = table_columns(table, None if columns is None else columns.get(name, ()))
        if name == "annotations":
            rows = [{**r, "topic": r.get("topic") or r.get("annotator")} for r in rows]
        placeholders = ", ".join("?" for _ in cols)
        col_sql = ", ".join(f'"{c}"' for c in cols)
        conn.executemany(
            f'INSERT INTO "{name}" ({col_sql}) VALUES ({placeholders})',
            ([sql_value(r.get(c)) for c in cols] for r in rows),
        )


def loaded_database(batch: BatchRows, clock: Callable[[], float] = time.time,
                    columns: Mapping[str, Collection[str]] | None = None) -> sqlite3.Connection:
    """A fresh database holding the batch's rows, sealed read-only; the caller closes it."""
    conn = new_database(clock, columns)
    try:
        conn.execute("BEGIN")
        load(conn, batch, columns)
        conn.execute("COMMIT")
        seal(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class FilterEngine(Protocol):
    """What the matcher needs of an engine: evaluate compiled filters on one batch. A faster
    (e.g. vectorised) evaluator can implement this beside SqliteEngine and be tested against it."""

    def run(self, batch: BatchRows, filters: Sequence[tuple[Hashable, CompiledFilter]]) -> dict[Hashable, FilterOutcome]:
        ...


def _count_metric(name: str, value: int) -> None:
    """One CloudWatch metric (embedded metric format on stdout), emitted at once."""
    if value <= 0:
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace="skystream") as metric:
        metric.add_dimension(name="component", value="filter_engine")


class SqliteEngine:
    """Evaluate compiled filters on a batch; SQLite is the reference semantics."""

    def __init__(self, time_limit_s: float = 2.0, row_cap: int = ROW_CAP,
                 clock: Callable[[], float] = time.time) -> None:
        self.time_limit_s = time_limit_s
        self.row_cap = row_cap
        self.clock = clock

    def run(self, batch: BatchRows, filters: Sequence[tuple[Hashable, CompiledFilter]]) -> dict[Hashable, FilterOutcome]:
        outcomes: dict[Hashable, FilterOutcome] = {}
        if not filters:
            return outcomes
        columns = columns_needed([compiled for _, compiled in filters])
        conn = loaded_database(batch, self.clock, columns)
        try:
            for key, compiled in filters:
                outcomes[key] = self._run_one(conn, key, compiled)
        finally:
            conn.close()
        failed = [k for k, o in outcomes.items() if not o.ok]
        if failed:
            timed_out = sum(1 for k in failed if outcomes[k].timed_out)
            logger.warning("filters failed on a batch", extra={
                "failed_filters": len(failed), "timed_out_filters": timed_out, "filters": len(filters),
                "objects": len(batch.objects), "failed_filter_ids": [str(k) for k in failed[:50]]})
            _count_metric("FilterErrors", len(failed) - timed_out)
            _count_metric("FilterTimeouts", timed_out)
        return outcomes

    def _run_one(self, conn: sqlite3.Connection, key: Hashable, compiled: CompiledFilter) -> FilterOutcome:
        start = time.perf_counter()
        deadline = start + self.time_limit_s
        conn.set_progress_handler(lambda: 1 if time.perf_counter() > deadline else 0, PROGRESS_EVERY)
        outcome = FilterOutcome()
        try:
            cursor = conn.execute(compiled.sqlite_sql)
            fetched = cursor.fetchmany(self.row_cap + 1)
            outcome.truncated = len(fetched) > self.row_cap
            names = compiled.output_columns
            outcome.rows = [dict(zip(names, row, strict=False)) for row in fetched[: self.row_cap]]
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                outcome.timed_out = True
                outcome.error = f"stopped after the time limit of {self.time_limit_s:g} s"
            else:
                outcome.error = str(exc)
        except (sqlite3.Error, OverflowError, MemoryError, ValueError) as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.set_progress_handler(None, 0)
        outcome.elapsed_s = time.perf_counter() - start
        if not outcome.ok:
            logger.warning("filter failed", extra={"filter_id": str(key), "error": outcome.error,
                                                   "timed_out": outcome.timed_out, "elapsed_s": outcome.elapsed_s})
        return outcome
