"""The history engine on AWS: Athena (Trino SQL) over the Glue tables the template declares.

One query is: ``StartQueryExecution`` (the Glue database as the query's context, the stack's workgroup,
which enforces its result location under ``athena-results/``), ``GetQueryExecution`` polled with a
growing pause until it SUCCEEDED, ``GetQueryResults`` page by page. A query that FAILED or was CANCELLED
raises :class:`~skystream.domain.errors.HistoryQueryFailed` with Athena's reason; one still running at
``time_limit_s`` is stopped (``StopQueryExecution``) and raises the same, saying how long it ran.

Values come back from Athena as text; each column is converted by the type ``ResultSetMetadata``
gives it (bigint/integer -> int, double/real/decimal -> float, boolean -> bool, varchar -> str; a cell
without a value is NULL). The first row of the first page is the header (the column names), skipped.

Tested offline only: ``tests/unit/test_history_athena.py`` checks the request sequence against a
recording fake client (no AWS account here), and the filter SQL the lead's services send is checked by
sqlglot parsing in the Trino dialect (docs/history.md, "Athena on AWS").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from skystream.domain.errors import HistoryQueryFailed
from skystream.history.schema import OBJECTS_HISTORY
from skystream.ports import HistoryFiles

POLL_FIRST_S = 0.1
POLL_MAX_S = 2.0
POLL_GROWTH = 1.5
PAGE_ROWS = 1000  # GetQueryResults' most rows per page

_INTEGERS = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
_FLOATS = frozenset({"double", "float", "real", "decimal"})


def _convert(value: str | None, athena_type: str) -> Any:
    if value is None:
        return None
    kind = athena_type.lower().split("(", 1)[0]
    if kind in _INTEGERS:
        return int(value)
    if kind in _FLOATS:
        return float(value)  # Athena writes NaN and Infinity as such: float() reads both
    if kind == "boolean":
        return value.lower() == "true"
    return value


class AthenaHistory:
    """:class:`~skystream.ports.HistoryEngine` on Athena: SQL in the Trino dialect over ``database``."""

    dialect: Literal["duckdb", "trino"] = "trino"

    def __init__(self, client: Any, files: HistoryFiles, *, database: str, workgroup: str,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.files = files
        self.database = database
        self.workgroup = workgroup
        self._clock = clock
        self._sleep = sleep

    def nights(self) -> list[int]:
        return self.files.nights(OBJECTS_HISTORY.name)

    def query(self, sql: str, *, time_limit_s: float) -> list[dict[str, Any]]:
        started = self._clock()
        execution_id = self.client.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": self.database}, WorkGroup=self.workgroup,
        )["QueryExecutionId"]
        self._wait(execution_id, started, time_limit_s)
        return list(self._rows(execution_id))

    def _wait(self, execution_id: str, started: float, time_limit_s: float) -> None:
        pause = POLL_FIRST_S
        while True:
            status = self.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
            state = status.get("State")
            if state == "SUCCEEDED":
                return
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason") or (status.get("AthenaError") or {}).get("ErrorMessage")
                raise HistoryQueryFailed(f"Athena query {execution_id} {state.lower()}: {reason or 'no reason given'}",
                                         engine="athena", query_execution_id=execution_id)
            elapsed = self._clock() - started
            if elapsed >= time_limit_s:
                self.client.stop_query_execution(QueryExecutionId=execution_id)
                raise HistoryQueryFailed(
                    f"Athena query {execution_id} still {str(state).lower()} after {elapsed:.1f} s, past the "
                    f"{time_limit_s:g} s limit: stopped; narrow it (fewer nights, a position) and try again",
                    engine="athena", query_execution_id=execution_id)
            self._sleep(min(pause, max(0.0, time_limit_s - elapsed)))
            pause = min(pause * POLL_GROWTH, POLL_MAX_S)

    def _rows(self, execution_id: str) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": PAGE_ROWS}
        columns: list[tuple[str, str]] | None = None
        first = True
        while True:
            page = self.client.get_query_results(**request)
            result = page["ResultSet"]
            if columns is None:
                columns = [(c["Name"], c.get("Type", "varchar"))
                           for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
            rows = result.get("Rows", [])
            if first:
                rows = rows[1:]  # the header: the column names
                first = False
            for row in rows:
                cells = row.get("Data", [])
                yield {name: _convert(cell.get("VarCharValue"), kind)
                       for (name, kind), cell in zip(columns, cells, strict=True)}
            token = page.get("NextToken")
            if not token:
                return
            request["NextToken"] = token
