"""Run many compiled filters over one batch: one fresh in-memory SQLite database per batch.

Each filter runs with a time limit and a row cap. A filter that errors or runs out of time
is reported in its outcome (error, timed_out, elapsed_s); the other filters still run. The
engine logs nothing: the caller knows who owns the filter and why it ran, and writes the one
log line a failure gets (``skystream.services.matching``). This is
the engine's whole interface (compile once elsewhere; per batch, ``session`` loads the rows
and ``evaluate`` runs one filter, or ``run`` runs them all), so a faster evaluator can sit
beside it and be tested against it.

How the time limit holds: a watchdog thread calls ``sqlite3_interrupt`` at the deadline,
which SQLite notices at its next row step whatever that step costs (a Python progress
handler called every N instructions sees nothing inside one step and spans many rows);
our functions return NULL at once past the deadline; and ``filters.limits`` bounds what
the native work of one row can cost (LIKE pattern and text sizes). A stopped filter's
``elapsed_s`` is the wall time it really took.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from skystream.filters.batch import BatchRows
from skystream.filters.compiler import ROW_CAP, CompiledFilter
from skystream.filters.database import new_database, seal, table_columns
from skystream.filters.functions import Stop
from skystream.filters.limits import MAX_VALUE_BYTES, apply_sqlite_limits
from skystream.filters.schema import TABLES

DEFAULT_TIME_LIMIT_S = 2.0  # per filter per batch


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
                    columns: Mapping[str, Collection[str]] | None = None, stop: Stop | None = None) -> sqlite3.Connection:
    """A fresh database holding the batch's rows, sealed read-only, with the limits of
    ``filters.limits``; the caller closes it."""
    conn = new_database(clock, columns, stop)
    try:
        conn.execute("BEGIN")
        load(conn, batch, columns)
        conn.execute("COMMIT")
        seal(conn)
        apply_sqlite_limits(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class _Watchdog:
    """One daemon thread that interrupts SQLite connections whose filter is past its deadline.

    ``arm`` before a filter runs, ``disarm`` after; both take the lock the interrupt is sent
    under, so a filter is never interrupted after ``disarm`` returned (the next filter on
    the same connection is safe). Shared by every engine of the process: the local API
    runs requests in threads.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, sqlite3.Connection, Stop]] = {}
        self._fired: set[int] = set()
        self._tokens = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._wakes_at = math.inf  # when the thread wakes next by itself

    def arm(self, conn: sqlite3.Connection, stop: Stop, deadline: float) -> int:
        """Interrupt ``conn`` and set ``stop`` (our functions' flag) at ``deadline`` (monotonic)."""
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = (deadline, conn, stop)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="sqlite-watchdog", daemon=True)
                self._thread.start()
            if deadline < self._wakes_at:  # else it wakes early enough: no thread switch per filter
                self._cond.notify()
            return token

    def disarm(self, token: int) -> bool:
        """Stop watching; True if the interrupt was sent."""
        with self._cond:
            self._armed.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                return True
            return False

    def _watch(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, conn, stop) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        self._fired.add(token)
                        stop.stopped = True
                        with contextlib.suppress(sqlite3.ProgrammingError):  # closed meanwhile: nothing to stop
                            conn.interrupt()
                self._wakes_at = min((entry[0] for entry in self._armed.values()), default=math.inf)
                self._cond.wait(None if self._wakes_at == math.inf else max(0.0, self._wakes_at - now))


_WATCHDOG = _Watchdog()


class FilterEngine(Protocol):
    """What the matcher needs of an engine: load one batch, then evaluate compiled filters on it
    one at a time, each within the time the caller gives it. A faster (e.g. vectorised)
    evaluator can implement this beside SqliteEngine and be tested against it."""

    time_limit_s: float

    def session(self, batch: BatchRows, filters: Sequence[CompiledFilter]) -> BatchSession:
        ...


class BatchSession(Protocol):
    """One loaded batch; ``with engine.session(...) as s:`` closes it however the block ends."""

    def evaluate(self, key: Hashable, compiled: CompiledFilter, time_limit_s: float) -> FilterOutcome: ...

    def close(self) -> None: ...

    def __enter__(self) -> BatchSession: ...

    def __exit__(self, *exc: object) -> None: ...


def _count_metric(name: str, value: int) -> None:
    """One CloudWatch metric (embedded metric format on stdout), emitted at once."""
    if value <= 0:
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace="skystream") as metric:
        metric.add_dimension(name="component", value="filter_engine")


class SqliteSession:
    """One batch loaded into a fresh database; filters evaluated on it one by one.

    Failures are counted as they happen and emitted as two metrics on close.
    """

    def __init__(self, conn: sqlite3.Connection, stop: Stop, row_cap: int) -> None:
        self._conn = conn
        self._stop = stop
        self._row_cap = row_cap
        self._failed = 0
        self._timed_out = 0

    def evaluate(self, key: Hashable, compiled: CompiledFilter, time_limit_s: float) -> FilterOutcome:
        outcome = _run_one(self._conn, self._stop, compiled, time_limit_s, self._row_cap)
        if not outcome.ok:
            self._failed += 1
            self._timed_out += outcome.timed_out
        return outcome

    def close(self) -> None:
        self._conn.close()
        if self._failed:
            _count_metric("FilterErrors", self._failed - self._timed_out)
            _count_metric("FilterTimeouts", self._timed_out)
            self._failed = self._timed_out = 0

    def __enter__(self) -> SqliteSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqliteEngine:
    """Evaluate compiled filters on a batch; SQLite is the reference semantics."""

    def __init__(self, time_limit_s: float = DEFAULT_TIME_LIMIT_S, row_cap: int = ROW_CAP,
                 clock: Callable[[], float] = time.time) -> None:
        self.time_limit_s = time_limit_s
        self.row_cap = row_cap
        self.clock = clock

    def session(self, batch: BatchRows, filters: Sequence[CompiledFilter]) -> SqliteSession:
        """Load ``batch`` (only the columns ``filters`` read) for evaluating them; close it after."""
        stop = Stop()
        conn = loaded_database(batch, self.clock, columns_needed(filters), stop)
        return SqliteSession(conn, stop, self.row_cap)

    def run(self, batch: BatchRows, filters: Sequence[tuple[Hashable, CompiledFilter]]) -> dict[Hashable, FilterOutcome]:
        """Every filter, in order, each with the engine's time limit."""
        if not filters:
            return {}
        with self.session(batch, [compiled for _, compiled in filters]) as session:
            return {key: session.evaluate(key, compiled, self.time_limit_s) for key, compiled in filters}


def _run_one(conn: sqlite3.Connection, stop: Stop, compiled: CompiledFilter, time_limit_s: float,
             row_cap: int) -> FilterOutcome:
    start = time.monotonic()
    outcome = FilterOutcome()
    stop.stopped = False
    token = _WATCHDOG.arm(conn, stop, start + time_limit_s)
    cursor: sqlite3.Cursor | None = None
    interrupted = False
    try:
        cursor = conn.execute(compiled.sqlite_sql)
        fetched = cursor.fetchmany(row_cap + 1)
        outcome.truncated = len(fetched) > row_cap
        names = compiled.output_columns
        outcome.rows = [dict(zip(names, row, strict=False)) for row in fetched[:row_cap]]
    except sqlite3.Error as exc:
        if exc.sqlite_errorname == "SQLITE_INTERRUPT":
            interrupted = True
        elif exc.sqlite_errorname == "SQLITE_TOOBIG":
            outcome.error = (f"a value or row grew over {MAX_VALUE_BYTES // 1024} KB while the filter ran ({exc}); "
                             "select fewer or shorter text columns")
        else:
            outcome.error = str(exc) if isinstance(exc, sqlite3.OperationalError) else f"{type(exc).__name__}: {exc}"
    except (OverflowError, MemoryError, ValueError) as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
    finally:
        # Disarm before the statement ends: an interrupt sent after this cannot exist, and one
        # sent before is cleared when the statement is reset (SQLite clears it once none runs).
        interrupted = _WATCHDOG.disarm(token) or interrupted
        stop.stopped = False
        if cursor is not None:
            cursor.close()
    outcome.elapsed_s = time.monotonic() - start
    if interrupted and outcome.error is None:
        outcome.rows, outcome.truncated, outcome.timed_out = [], False, True
        outcome.error = f"stopped after {outcome.elapsed_s:.2f} s: over the time limit of {time_limit_s:g} s"
    return outcome
