"""What the history service decides: which nights a backtest reads and with what clock, the flood warning,
paging and truncation of a run over every object, the bounds on what may be asked, the shared rate limit and
the request deadline. Over real Parquet files and the real DuckDB engine; only the rate counter is a fake."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
import sqlglot
from fakes import MemoryHistory, MemoryRates

from skystream.domain.errors import BadRequest, HistoryQueryFailed, RateLimited
from skystream.domain.filters import StoredFilter
from skystream.domain.sky import pixel_of
from skystream.filters.compiler import compiled_filter
from skystream.history import queries
from skystream.history.dialects import history_sql
from skystream.services.history import (
    BACKTEST_WARN_SHARE,
    HistoryLimits,
    HistoryService,
    NightResult,
    flood_warnings,
    night_end_mjd,
)
from skystream.storage.history_duckdb import DuckDbHistory

pytestmark = pytest.mark.unit

NIGHTS = (61001, 61002, 61003, 61004)


def _filter(conditions: str, selected: str = "objects.diaObjectId, objects.nDiaSources") -> StoredFilter:
    return StoredFilter(filter_id="f1", owner=1, name="f", selected=selected, tables="objects",
                        conditions=conditions, created="", modified="")


@pytest.fixture
def lake(tmp_path: Any) -> tuple[MemoryHistory, list[dict[str, Any]]]:
    rng = random.Random(5)
    history = MemoryHistory(tmp_path)
    rows: list[dict[str, Any]] = []
    for i, night in enumerate(NIGHTS):
        of_night = []
        for k in range(200 + 100 * i):
            ra, decl = rng.uniform(0, 360), rng.uniform(-80, 20)
            mjd = night + rng.uniform(-0.45, 0.45)
            of_night.append({"diaObjectId": 1000 + k, "diaSourceId": night * 10_000 + k, "alertMjdTai": mjd,
                             "lastDiaSourceMjdTai": mjd, "ra": ra, "decl": decl, "skyPixel": pixel_of(ra, decl),
                             "nDiaSources": rng.randint(1, 100)})
        history.append("objects_history", night, of_night, name="batch")
        rows.extend(of_night)
    return history, rows


def _service(history: MemoryHistory, *, per_minute: int = 100, deadline_s: float = 20.0) -> HistoryService:
    return HistoryService(DuckDbHistory(history, threads=1), rates=MemoryRates(),
                          limits=HistoryLimits(deadline_s=deadline_s, per_minute=per_minute))


def test_a_backtest_reads_the_newest_nights_with_each_nights_end_as_mjdnow(lake: Any) -> None:
    history, rows = lake
    # matches an alert only if mjdnow() is its night's end: within 0.5 day before it
    result = _service(history).backtest(1, _filter("mjdnow() - objects.lastDiaSourceMjdTai < 0.5 "
                                                   "AND objects.nDiaSources > 90"), nights=3, sample=3)
    assert [n.night for n in result.nights] == [61004, 61003, 61002]
    for n in result.nights:
        of_night = [r for r in rows if int(r["alertMjdTai"] + 0.5) == n.night]
        matched = [r for r in of_night if night_end_mjd(n.night) - r["lastDiaSourceMjdTai"] < 0.5
                   and r["nDiaSources"] > 90]
        assert (n.alerts, n.objects, n.total) == (len(matched), len({r["diaObjectId"] for r in matched}), len(of_night))
        assert len(n.sample) == min(3, len(matched)) and all(s["nDiaSources"] > 90 for s in n.sample)


def test_the_flood_warning_names_each_night_above_the_share(lake: Any) -> None:
    history, _rows = lake
    result = _service(history).backtest(1, _filter("objects.nDiaSources >= 1"), nights=2, sample=0)
    assert [n.share for n in result.nights] == [1.0, 1.0]
    assert len(result.warnings) == 2 and result.warnings[0].startswith("night 61004: the filter matched 500 of 500")
    quiet = _service(history).backtest(1, _filter("objects.nDiaSources > 1000"), nights=2, sample=0)
    assert quiet.warnings == [] and all(n.alerts == 0 and n.sample == [] for n in quiet.nights)


def test_the_warning_is_strictly_above_the_share() -> None:
    at = NightResult(night=1, alerts=1, objects=1, total=int(1 / BACKTEST_WARN_SHARE))
    above = NightResult(night=2, alerts=2, objects=2, total=int(1 / BACKTEST_WARN_SHARE))
    assert [w.split(":")[0] for w in flood_warnings([at, above])] == ["night 2"]


def test_run_over_every_object_pages_through_the_latest_rows_and_says_when_more_matched(lake: Any) -> None:
    history, rows = lake
    latest: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["diaObjectId"] not in latest or r["alertMjdTai"] > latest[r["diaObjectId"]]["alertMjdTai"]:
            latest[r["diaObjectId"]] = r
    expected = sorted(o for o, r in latest.items() if r["nDiaSources"] > 50)
    svc = _service(history)
    seen: list[int] = []
    offset = 0
    while True:
        page = svc.run_all(1, _filter("objects.nDiaSources > 50"), limit=40, offset=offset)
        seen.extend(r["diaObjectId"] for r in page.rows)
        assert page.nights == len(NIGHTS)
        if not page.truncated:
            break
        assert len(page.rows) == 40
        offset += 40
    assert sorted(seen) == expected and len(seen) == len(set(seen))


@pytest.mark.parametrize(("call", "message"), [
    (lambda s, f: s.backtest(1, f, nights=0), "nights must be between 1 and 30"),
    (lambda s, f: s.backtest(1, f, nights=31), "nights must be between 1 and 30"),
    (lambda s, f: s.backtest(1, f, nights=1, sample=101), "sample must be between 0 and 100"),
    (lambda s, f: s.run_all(1, f, limit=10, offset=-1), "offset must be between 0 and"),
])
def test_what_may_be_asked_is_bounded(lake: Any, call: Any, message: str) -> None:
    history, _rows = lake
    with pytest.raises(BadRequest, match=message):
        call(_service(history), _filter("objects.nDiaSources > 1"))


def test_history_requests_share_run_nows_rate_limit(lake: Any) -> None:
    history, _rows = lake
    svc = _service(history, per_minute=2)
    f = _filter("objects.nDiaSources > 1")
    svc.run_all(1, f, limit=1)
    svc.backtest(1, f, nights=1, sample=0)
    with pytest.raises(RateLimited, match="RUN_NOW_PER_MINUTE"):
        svc.run_all(1, f, limit=1)
    svc.run_all(2, f, limit=1)  # another user is not limited by the first one


def test_a_backtest_stops_at_the_request_deadline_and_says_so(lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    history, _rows = lake
    svc = _service(history, deadline_s=0.5)
    slow_query = svc.engine.query

    def slow(sql: str, *, time_limit_s: float) -> list[dict[str, Any]]:
        time.sleep(0.3)
        return slow_query(sql, time_limit_s=time_limit_s)

    monkeypatch.setattr(svc.engine, "query", slow)
    started = time.monotonic()
    # either the engine stops the query at what is left, or the service finds nothing left before the next one
    with pytest.raises(HistoryQueryFailed, match=r"ran past its time limit|ran out of its time before night"):
        svc.backtest(1, _filter("objects.nDiaSources > 1"), nights=4, sample=1)
    assert time.monotonic() - started < 1.5  # 4 nights x 2 queries x 0.3 s would be 2.4 s


class Watched:
    """The DuckDB engine, keeping the statements it is given; ``lower`` answers as Athena does through Glue:
    every column name in lower case."""

    def __init__(self, engine: DuckDbHistory, *, lower: bool = False):
        self.engine = engine
        self.dialect = engine.dialect
        self.lower = lower
        self.statements: list[str] = []

    def nights(self) -> list[int]:
        return self.engine.nights()

    def query(self, sql: str, *, time_limit_s: float) -> list[dict[str, Any]]:
        self.statements.append(sql)
        rows = self.engine.query(sql, time_limit_s=time_limit_s)
        return [{k.lower(): v for k, v in row.items()} for row in rows] if self.lower else rows


def test_rows_keep_the_filters_and_schemas_spelling_whatever_case_the_engine_answers_in(lake: Any) -> None:
    history, _rows = lake
    history.append("detections", 61004, [{"diaSourceId": 1, "diaObjectId": 1000, "midpointMjdTai": 61004.1,
                                          "band": "g", "psfFlux": 12.5}], name="d")
    svc = HistoryService(Watched(DuckDbHistory(history, threads=1), lower=True), rates=MemoryRates(),
                         limits=HistoryLimits(deadline_s=20.0, per_minute=100))
    f = _filter("objects.nDiaSources > 50", selected="objects.diaObjectId, objects.nDiaSources AS nSources")
    assert set(svc.run_all(1, f, limit=5).rows[0]) == {"diaObjectId", "nSources"}
    assert set(svc.backtest(1, f, nights=1, sample=1).nights[0].sample[0]) == {"diaObjectId", "nSources"}
    detection = svc.lightcurve(1000)["detections"][0]
    assert detection["diaSourceId"] == 1 and detection["midpointMjdTai"] == 61004.1 and "diasourceid" not in detection


def test_runs_over_every_object_and_lightcurves_read_only_the_nights_the_history_holds(lake: Any) -> None:
    history, _rows = lake
    engine = Watched(DuckDbHistory(history, threads=1))
    svc = HistoryService(engine, rates=MemoryRates(), limits=HistoryLimits(deadline_s=20.0, per_minute=100))
    unbounded = _service(history).run_all(1, _filter("objects.nDiaSources > 50"), limit=1000).rows
    assert svc.run_all(1, _filter("objects.nDiaSources > 50"), limit=1000).rows == unbounded
    svc.lightcurve(1000)
    assert all('"night" BETWEEN 61001 AND 61004' in sql for sql in engine.statements)
    # the bounded statements are Athena's too: they parse in Trino's dialect
    translated = history_sql(compiled_filter(_filter("objects.nDiaSources > 50")), "trino", now_mjd=61000.0)
    for sql in (queries.latest_rows(translated, "trino", limit=10, offset=0, nights=(61001, 61004)),
                *queries.lightcurve("trino", 1000, (61001, 61004))):
        assert "BETWEEN 61001 AND 61004" in sqlglot.parse_one(sql, read="trino").sql(dialect="trino")
