"""A failed filter is logged once per batch, by the matcher, with what an operator searches by (issue 14).

Before, one failing filter was logged up to four times (the engine per evaluation, the
engine's batch summary, the matcher, and the matcher handler). Now the engine only reports
outcomes; ``services.matching`` writes one ``filter failed`` line per failed filter (filter
id, owner, error, timed_out, elapsed_s) and at most one ``filters failed or skipped`` summary
per run. The batch here has one filter of each kind of failure, on the real SQLite engine:
refused by the checker, an error while running, out of time (tried twice by the fair
schedule: a short first turn, then its full limit), rows that cannot become records, and
one good filter.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import MemoryFailureCounts, RecordingNotice, matcher

from skystream.domain.filters import StoredFilter
from skystream.domain.matches import MatchReport
from skystream.domain.objects import ObjectContext
from skystream.filters.compiler import CompiledFilter
from skystream.filters.engine import SqliteEngine
from skystream.filters.schedule import COSTS
from skystream.services import matching
from skystream.services.suspension import Suspensions, forget_known_counts

pytestmark = pytest.mark.unit

TIME_LIMIT_S = 0.3
OBJECTS = 400  # the cross join below has 400**3 = 64 million rows: far over the time limit


def _filter(fid: str, owner: int, conditions: str = "objects.ra >= 0") -> StoredFilter:
    return StoredFilter(filter_id=fid, owner=owner, name=fid, selected="objects.diaObjectId, objects.ra",
                        tables="objects", conditions=conditions, output="kafka_plain", on_alert=True,
                        topic=f"lasair_{owner}{fid}", created="t", modified="t")


FILTERS = [
    _filter("refused", 11, conditions="objects.ra >> 'x' OR"),  # stored before a checker change
    _filter("broken", 12),
    _filter("slow", 13),
    _filter("unkeyed", 15),
    _filter("good", 14),
]
FAILED = {"refused": 11, "broken": 12, "slow": 13, "unkeyed": 15}

# What the checker would never let through, compiled by hand: a run-time error and a runaway join.
CRAFTED = {
    "broken": CompiledFilter(sqlite_sql="SELECT nope FROM objects", mysql_sql="", output_columns=("nope",),
                             tables=frozenset({"objects"}), annotators=frozenset()),
    "unkeyed": CompiledFilter(sqlite_sql='SELECT "ra" AS "ra" FROM "objects"', mysql_sql="", output_columns=("ra",),
                              tables=frozenset({"objects"}), annotators=frozenset()),
    "slow": CompiledFilter(sqlite_sql='SELECT a."diaObjectId" AS "diaObjectId" FROM "objects" a, "objects" b, '
                                      '"objects" c WHERE a."ra" + b."ra" + c."ra" < -1',
                           mysql_sql="", output_columns=("diaObjectId",), tables=frozenset({"objects"}),
                           annotators=frozenset()),
}


def run_scenario() -> MatchReport:
    """One alert batch with the four filters; also run alone by the JSON test in a fresh interpreter."""
    real = matching.compiled_filter
    matching.compiled_filter = lambda f: CRAFTED.get(f.filter_id) or real(f)  # type: ignore[assignment]
    try:
        contexts = [ObjectContext(row={"diaObjectId": i, "ra": float(i), "decl": -1.0,
                                       "lastDiaSourceMjdTai": 61000.0}, lite={}) for i in range(OBJECTS)]
        runner = matcher(engine=SqliteEngine(time_limit_s=TIME_LIMIT_S),
                         health=Suspensions(MemoryFailureCounts(), notify=RecordingNotice(), after=5))
        return runner.run_and_deliver(contexts, FILTERS, trigger="alert")
    finally:
        matching.compiled_filter = real  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def fresh_container() -> Iterator[None]:
    COSTS.clear()
    forget_known_counts()
    yield
    COSTS.clear()
    forget_known_counts()


def test_each_failed_filter_is_logged_once_with_its_owner_and_the_run_once_in_summary(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    report = run_scenario()
    assert report.failed_filters == len(FAILED) and report.per_filter["good"].produced == OBJECTS

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    failed = [r for r in warnings if r.getMessage() == "filter failed"]
    assert sorted(r.filter_id for r in failed) == sorted(FAILED)  # once each; never the good one
    by_id = {r.filter_id: r for r in failed}
    for fid, owner in FAILED.items():
        assert by_id[fid].owner == owner and by_id[fid].trigger == "alert" and by_id[fid].objects == OBJECTS
        assert by_id[fid].error == report.per_filter[fid].error
    assert by_id["refused"].error.startswith("refused: ") and "col " in by_id["refused"].error
    assert "no such column: nope" in by_id["broken"].error and not by_id["broken"].timed_out
    assert by_id["slow"].timed_out and by_id["slow"].elapsed_s >= TIME_LIMIT_S
    assert "time limit" in by_id["slow"].error
    assert "no diaObjectId" in by_id["unkeyed"].error and not by_id["unkeyed"].timed_out

    summaries = [r for r in warnings if r.getMessage() == "filters failed or skipped"]
    assert len(summaries) == 1
    assert summaries[0].failed_filters == len(FAILED) and sorted(summaries[0].failed_filter_ids) == sorted(FAILED)
    assert len(warnings) == len(failed) + len(summaries)  # nothing else says it again


def test_a_run_without_failures_logs_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    runner = matcher(health=Suspensions(MemoryFailureCounts(), notify=RecordingNotice(), after=5))
    report = runner.run_and_deliver(
        [ObjectContext(row={"diaObjectId": 1, "ra": 1.0, "lastDiaSourceMjdTai": 1.0}, lite={})],
        [_filter("good", 14)], trigger="alert")
    assert report.produced == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_in_a_lambda_the_line_is_powertools_json_on_stdout_under_the_service_name() -> None:
    """As in a handler: the function's ``Logger()`` (POWERTOOLS_SERVICE_NAME=skystream) prints the core's lines."""
    here = Path(__file__).parent
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
            "from aws_lambda_powertools import Logger\n"
            "Logger()  # what every handler module creates\n"
            "from test_failure_logging import run_scenario\n"
            "run_scenario()\n")
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "skystream", "POWERTOOLS_METRICS_NAMESPACE": "skystream"}
    done = subprocess.run([sys.executable, "-c", code, str(here), str(here.parent)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]  # every line is JSON
    failed = [line for line in lines if line.get("message") == "filter failed"]
    assert sorted(line["filter_id"] for line in failed) == sorted(FAILED)
    assert all(line["service"] == "skystream" and line["level"] == "WARNING" for line in failed)
    assert {line["filter_id"]: line["owner"] for line in failed} == FAILED
    assert [line["timed_out"] for line in failed if line["filter_id"] == "slow"] == [True]
    assert len([line for line in lines if line.get("message") == "filters failed or skipped"]) == 1
    assert "filter failed" not in done.stderr
