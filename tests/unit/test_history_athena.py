"""The Athena history engine against a recording fake client (no AWS here): the request sequence, polling,
pagination, value conversion by column type, failures and the time limit (StopQueryExecution)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes import MemoryHistory, RecordingAthena

from skystream.domain.errors import HistoryQueryFailed
from skystream.history.schema import OBJECTS_HISTORY
from skystream.storage.history_athena import AthenaHistory


def _page(rows: list[list[str | None]], columns: list[tuple[str, str]], header: bool) -> dict[str, Any]:
    data = [{"Data": [{"VarCharValue": name} for name, _ in columns]}] if header else []
    data += [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows]
    return {"Rows": data, "ResultSetMetadata": {"ColumnInfo": [{"Name": n, "Type": t} for n, t in columns]}}


COLUMNS = [("diaobjectid", "bigint"), ("ra", "double"), ("band", "varchar"), ("n", "integer"), ("ok", "boolean")]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _engine(client: RecordingAthena, tmp_path: Path, clock: Clock | None = None) -> AthenaHistory:
    clock = clock or Clock()
    return AthenaHistory(client, MemoryHistory(tmp_path), database="skystream_history", workgroup="skystream-history",
                         clock=clock, sleep=clock.sleep)


def test_a_query_starts_in_the_workgroup_polls_until_it_succeeds_and_reads_every_page(tmp_path: Path) -> None:
    pages = [_page([["1", "10.5", "g", "3", "true"]], COLUMNS, header=True),
             _page([["2", None, None, "4", "false"], ["3", "NaN", "r", None, None]], COLUMNS, header=False)]
    client = RecordingAthena(states=["QUEUED", "RUNNING", "SUCCEEDED"], pages=pages)
    rows = _engine(client, tmp_path).query("SELECT 1", time_limit_s=30)
    assert client.operations() == ["StartQueryExecution", "GetQueryExecution", "GetQueryExecution",
                                   "GetQueryExecution", "GetQueryResults", "GetQueryResults"]
    assert client.calls[0][1] == {"QueryString": "SELECT 1", "QueryExecutionContext": {"Database": "skystream_history"},
                                  "WorkGroup": "skystream-history"}
    assert client.calls[-1][1] == {"QueryExecutionId": "q-1", "MaxResults": 1000, "NextToken": "1"}
    assert rows[:2] == [{"diaobjectid": 1, "ra": 10.5, "band": "g", "n": 3, "ok": True},
                        {"diaobjectid": 2, "ra": None, "band": None, "n": 4, "ok": False}]
    assert rows[2]["ra"] != rows[2]["ra"] and rows[2]["n"] is None  # NaN, and NULL
    assert type(rows[0]["diaobjectid"]) is int and type(rows[0]["ra"]) is float


def test_the_pause_between_polls_grows(tmp_path: Path) -> None:
    clock = Clock()
    client = RecordingAthena(states=["RUNNING"] * 6 + ["SUCCEEDED"], pages=[_page([], COLUMNS, header=True)])
    assert _engine(client, tmp_path, clock).query("SELECT 1", time_limit_s=60) == []
    assert clock.sleeps == sorted(clock.sleeps) and clock.sleeps[-1] > clock.sleeps[0]


def test_a_failed_query_raises_with_athenas_reason(tmp_path: Path) -> None:
    client = RecordingAthena(states=["RUNNING", "FAILED"], reason="COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved")
    with pytest.raises(HistoryQueryFailed, match="failed: COLUMN_NOT_FOUND") as failed:
        _engine(client, tmp_path).query("SELECT x", time_limit_s=30)
    assert failed.value.status == 503 and "GetQueryResults" not in client.operations()


def test_a_query_past_its_time_limit_is_stopped(tmp_path: Path) -> None:
    clock = Clock()
    client = RecordingAthena(states=["RUNNING"])
    with pytest.raises(HistoryQueryFailed, match="past the 5 s limit: stopped"):
        _engine(client, tmp_path, clock).query("SELECT slow", time_limit_s=5)
    assert client.operations()[-1] == "StopQueryExecution" and client.calls[-1][1] == {"QueryExecutionId": "q-1"}
    assert clock.now <= 5.0 + 1e-9


def test_nights_are_the_objects_historys_from_the_files(tmp_path: Path) -> None:
    history = MemoryHistory(tmp_path)
    for night in (60101, 60103):
        history.append(OBJECTS_HISTORY.name, night, [dict.fromkeys(OBJECTS_HISTORY.column_names)], name="b")
    engine = AthenaHistory(RecordingAthena(), history, database="d", workgroup="w")
    assert engine.dialect == "trino" and engine.nights() == [60103, 60101]
