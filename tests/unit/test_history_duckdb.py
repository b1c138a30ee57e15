"""The DuckDB history engine and the statement builders, over Parquet files written as the history lays them
out (``night=N/*.parquet``): latest rows and paging, per-night counts computed independently, samples,
lightcurves, cones, deduplication of redelivered rows, empty tables, time limit and errors."""

from __future__ import annotations

import random
from typing import Any

import pytest
import sqlglot
from fakes import MemoryHistory

from skystream.domain.errors import HistoryQueryFailed, HistoryUnsupported
from skystream.domain.sky import pixel_of, separation_arcsec
from skystream.filters.compiler import FilterQuery, compile_filter
from skystream.history import queries
from skystream.history.dialects import history_sql
from skystream.storage.history_duckdb import DuckDbHistory

pytestmark = pytest.mark.unit

NIGHTS = (60998, 60999, 61000)


def _alerts(seed: int = 3) -> list[dict[str, Any]]:
    """~3 alerts per object over three nights; positions in a 2-degree patch so cones find some."""
    rng = random.Random(seed)
    rows = []
    source = 1
    for n in range(120):
        oid = 5_000_000 + n
        ra, decl = 150 + rng.uniform(-1, 1), 2 + rng.uniform(-1, 1)
        for night in rng.sample(NIGHTS, rng.randint(1, 3)):
            ra_i, decl_i = ra + rng.uniform(-1e-5, 1e-5), decl + rng.uniform(-1e-5, 1e-5)
            rows.append({"diaObjectId": oid, "diaSourceId": source, "night": night, "alertMjdTai": night + rng.random(),
                         "ra": ra_i, "decl": decl_i, "skyPixel": pixel_of(ra_i, decl_i),
                         "g_psfFlux": rng.choice([None, rng.uniform(-100, 50000)]), "nDiaSources": rng.randint(1, 40),
                         "latestPairColourBands": rng.choice(["gr", "GR", "ri", None])})
            source += 1
    return rows


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[DuckDbHistory, list[dict[str, Any]], MemoryHistory]:
    rows = _alerts()
    files = MemoryHistory(tmp_path_factory.mktemp("lake"))
    for night in NIGHTS:
        of_night = sorted((r for r in rows if r["night"] == night), key=lambda r: r["skyPixel"])
        files.append("objects_history", night, of_night, name="a")
        files.append("objects_history", night, of_night[:10], name="a-again")  # redelivered: read once
        files.append("detections", night, [{"diaSourceId": r["diaSourceId"], "diaObjectId": r["diaObjectId"],
                                           "midpointMjdTai": r["alertMjdTai"], "band": "g", "psfFlux": r["g_psfFlux"]}
                                          for r in of_night], name="part-0")
    files.append("detections", 61000, [{"diaSourceId": 1, "diaObjectId": rows[0]["diaObjectId"],
                                       "midpointMjdTai": rows[0]["alertMjdTai"], "band": "g"}], name="dup")
    return DuckDbHistory(files, threads=1), rows, files


def _compiled(conditions: str, selected: str = "objects.diaObjectId, objects.g_psfFlux") -> Any:
    return compile_filter(FilterQuery(selected=selected, tables="objects", conditions=conditions))


def _bright(row: dict[str, Any]) -> bool:
    return row["g_psfFlux"] is not None and row["g_psfFlux"] > 10000


def test_nights_are_the_objects_partitions(lake: tuple[DuckDbHistory, list[dict[str, Any]], MemoryHistory]) -> None:
    engine, _, _ = lake
    assert engine.nights() == sorted(NIGHTS, reverse=True)


def test_night_counts_equal_an_independent_count(lake: tuple[DuckDbHistory, list[dict[str, Any]], MemoryHistory]) -> None:
    engine, rows, _ = lake
    h = history_sql(_compiled("objects.g_psfFlux > 10000"), "duckdb", now_mjd=61001.0)
    for night in NIGHTS:
        of_night = [r for r in rows if r["night"] == night]
        matched = [r for r in of_night if _bright(r)]
        [counts] = engine.query(queries.night_counts(h, "duckdb", night), time_limit_s=10)
        assert counts == {"alerts": len(matched), "objects": len({r["diaObjectId"] for r in matched}),
                          "total": len(of_night)}
        sample = engine.query(queries.night_sample(h, "duckdb", night, 5), time_limit_s=10)
        assert len(sample) == min(5, len(matched))
        assert {s["diaObjectId"] for s in sample} <= {r["diaObjectId"] for r in matched}


def test_latest_rows_read_each_objects_newest_alert_and_page(
        lake: tuple[DuckDbHistory, list[dict[str, Any]], MemoryHistory]) -> None:
    engine, rows, _ = lake
    latest: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["diaObjectId"] not in latest or r["alertMjdTai"] > latest[r["diaObjectId"]]["alertMjdTai"]:
            latest[r["diaObjectId"]] = r
    expected = sorted((r["diaObjectId"], r["g_psfFlux"]) for r in latest.values() if _bright(r))
    h = history_sql(_compiled("objects.g_psfFlux > 10000"), "duckdb", now_mjd=61001.0)
    pages = [engine.query(queries.latest_rows(h, "duckdb", limit=7, offset=o), time_limit_s=10) for o in range(0, 140, 7)]
    got = [(r["diaObjectId"], r["g_psfFlux"]) for page in pages for r in page]
    assert got == expected  # in order (diaObjectId breaks the filter's ties), no page overlapping another


def test_a_filters_own_limit_bounds_the_pages(lake: tuple[DuckDbHistory, list[dict[str, Any]], MemoryHistory]) -> None:
    engine, _, _ = lake
    h = history_sql(_compiled("objects.g_psfFlux > 0 ORDER BY objects.g_psfFlux DESC LIMIT 10"), "duckdb", now_mjd=0.0)
    first = engine.query(queries.latest_rows(h, "duckdb", limit=6, offset=0), time_limit_s=10)
    second = engine.query(queries.latest_rows(h, "duckdb", limit=6, offset=6), time_limit_s=10)
    assert (len(first), len(second)) == (6, 4)
    fluxes = [r["g_psfFlux"] for r in first + second]
    assert fluxes == sorted(fluxes, reverse=True)


def test_lightcurve_is_deduplicated_and_oldest_first(
        lake: tuple[DuckDbHistory, list[dict[str, Any]], MemoryHistory]) -> None:
    engine, rows, _ = lake
    oid = rows[0]["diaObjectId"]
    detections_sql, forced_sql = queries.lightcurve("duckdb", oid)
    detections = engine.query(detections_sql, time_limit_s=10)
    expected = sorted((r["alertMjdTai"], r["diaSourceId"]) for r in rows if r["diaObjectId"] == oid)
    assert [(d["midpointMjdTai"], d["diaSourceId"]) for d in detections] == expected
    assert engine.query(forced_sql, time_limit_s=10) == []  # no forced photometry file yet: an empty typed table


@pytest.mark.parametrize("radius", [10.0, 3600.0])
def test_cone_equals_brute_force(lake: tuple[DuckDbHistory, list[dict[str, Any]], MemoryHistory],
                                 radius: float) -> None:
    engine, rows, _ = lake
    centre = rows[5]
    latest: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["diaObjectId"] not in latest or r["alertMjdTai"] > latest[r["diaObjectId"]]["alertMjdTai"]:
            latest[r["diaObjectId"]] = r
    expected = {oid for oid, r in latest.items()
                if separation_arcsec(centre["ra"], centre["decl"], r["ra"], r["decl"]) <= radius}
    got = engine.query(queries.cone("duckdb", centre["ra"], centre["decl"], radius, limit=1000), time_limit_s=10)
    assert {r["diaObjectId"] for r in got} == expected and expected
    assert [r["arcsec"] for r in got] == sorted(r["arcsec"] for r in got)


def test_every_builder_statement_parses_in_both_dialects() -> None:
    for dialect in ("duckdb", "trino"):
        h = history_sql(_compiled("flux2mag(objects.g_psfFlux) < 20 AND objects.latestPairColourBands = 'gr'"),
                        dialect, now_mjd=61000.0)  # type: ignore[arg-type]
        statements = [queries.latest_rows(h, dialect, limit=10, offset=10), queries.night_counts(h, dialect, 61000),
                      queries.night_sample(h, dialect, 61000, 20), *queries.lightcurve(dialect, 42),
                      queries.cone(dialect, 150.0, 2.0, 10.0, limit=50)]  # type: ignore[arg-type]
        for sql in statements:
            sqlglot.parse_one(sql, read=dialect)


def test_an_empty_history_answers_zero(tmp_path: Any) -> None:
    engine = DuckDbHistory(MemoryHistory(tmp_path))
    h = history_sql(_compiled("objects.g_psfFlux > 1"), "duckdb", now_mjd=0.0)
    assert engine.nights() == []
    assert engine.query(queries.night_counts(h, "duckdb", 61000), time_limit_s=5) == [
        {"alerts": 0, "objects": 0, "total": 0}]
    assert engine.query(queries.latest_rows(h, "duckdb", limit=5, offset=0), time_limit_s=5) == []


def test_time_limit_stops_the_query(tmp_path: Any) -> None:
    engine = DuckDbHistory(MemoryHistory(tmp_path))
    with pytest.raises(HistoryQueryFailed, match=r"ran past its time limit of 0\.3 s"):
        engine.query("SELECT count(*) FROM range(100000000000) AS a(x) WHERE x % 7 = 3", time_limit_s=0.3)


def test_engine_errors_and_overflow_are_typed(tmp_path: Any) -> None:
    engine = DuckDbHistory(MemoryHistory(tmp_path))
    with pytest.raises(HistoryQueryFailed, match="DuckDB"):
        engine.query('SELECT "nope" FROM "objects_history"', time_limit_s=5)
    with pytest.raises(HistoryUnsupported, match="64-bit"):
        engine.query("SELECT CAST(9223372036854775807 AS BIGINT) + CAST(1 AS BIGINT) AS x", time_limit_s=5)


class _CountingFiles(MemoryHistory):
    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.asked: list[str] = []

    def local_dir(self, table: str) -> str:
        self.asked.append(table)
        return super().local_dir(table)


def test_only_the_tables_a_statement_names_are_brought_up_to_date(tmp_path: Any) -> None:
    files = _CountingFiles(str(tmp_path))
    engine = DuckDbHistory(files)
    h = history_sql(_compiled("objects.g_psfFlux > 1"), "duckdb", now_mjd=0.0)
    engine.query(queries.night_counts(h, "duckdb", 61000), time_limit_s=5)
    assert files.asked == ["objects_history"]
    files.asked.clear()
    engine.query(queries.lightcurve("duckdb", 7)[0], time_limit_s=5)
    assert files.asked == ["detections"]
