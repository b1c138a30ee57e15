"""History queries on DuckDB over Parquet: run-now, a one-night backtest and cones over 100,000 stored objects,
against the per-batch SQLite engine over the same rows.

The history: 100,000 objects, each with one alert on each of 3 nights (300,000 objects_history rows, 100,000
alerts a night), written as the history lays them out (``objects_history/night=N/*.parquet``, rows sorted by
``skyPixel``, row groups of 10,240 rows) with random but typed values for every column (fluxes log-uniform,
25% NULL). Engine: ``DuckDbHistory`` (a fresh connection per query, views over ``read_parquet``), the
statements of ``skystream.history.queries`` for a filter translated by ``history_sql``.

Measured (median of ``--repeat`` runs, seconds):
- run-now: ``latest_rows`` (the filter over the newest row of each of the 100,000 objects, first page of
  1,000) for a typical filter calling flux2mag (a Python UDF in DuckDB, as the matcher's SQLite calls it) and
  for one using operators only;
- backtest of one night: ``night_counts`` + ``night_sample`` (20 rows) over that night's 100,000 alerts;
- cone: ``cone`` of 10 arcsec and of 1 degree (pixel ranges prune row groups, exact separation decides).

Baseline in the same process: ``SqliteEngine.run`` on the 100,000 latest objects rows as one batch (load of
the columns the filter reads into a fresh in-memory database, then the filter), as the matcher would run it
had it all the rows in one batch; it does not read them from anywhere (the history engine does: Parquet
decode is in its figure), so the ratio favours SQLite.

    .venv/bin/python benchmarks/history_query.py [--objects 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "layers" / "core"))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
from fakes import MemoryHistory  # noqa: E402

from skystream.domain.sky import PIXEL_DEPTH, cells_of  # noqa: E402
from skystream.filters.batch import BatchRows  # noqa: E402
from skystream.filters.compiler import FilterQuery, compile_filter  # noqa: E402
from skystream.filters.engine import SqliteEngine  # noqa: E402
from skystream.history import queries  # noqa: E402
from skystream.history.dialects import history_sql  # noqa: E402
from skystream.history.schema import OBJECTS_HISTORY  # noqa: E402
from skystream.storage.history_duckdb import DuckDbHistory  # noqa: E402

NIGHTS = (61000, 61001, 61002)
NOW_MJD = 61003.0
FILTERS = {
    "typical (flux2mag UDF)": ("objects.diaObjectId, objects.r_psfFlux",
                               "flux2mag(objects.r_psfFlux) < 21 AND objects.r_psfFlux > objects.r_psfFluxMean + "
                               "3 * objects.r_psfFluxMeanErr"),
    "operators only": ("objects.diaObjectId, objects.r_psfFlux", "objects.r_psfFlux > 10000 AND objects.latestR > 0.8"),
}


def _column_sql(name: str, sql_type: str, night: int) -> str:
    """A random value of the column's type for each position row ``p`` (deterministic with setseed)."""
    null = "CASE WHEN random() < 0.25 THEN NULL ELSE {} END"
    if name == "diaObjectId":
        return "CAST(3000000000000 + p.i AS BIGINT)"
    if name in ("ra", "decl"):
        return f"p.{name}"
    if name in ("diaSourceId",):
        return f"CAST(p.i * 3 + {NIGHTS.index(night)} AS BIGINT)"
    if name == "alertMjdTai":
        return f"{night}.0 + random()"
    if name == "skyPixel":
        return "CAST(p.pix AS BIGINT)"
    if sql_type == "DOUBLE":
        if "Flux" in name and "Err" not in name:
            return null.format("pow(10, 1.5 + 4 * random())")
        if "Err" in name:
            return null.format("pow(10, 0.5 + 2 * random())")
        if name in ("latestR", "medianR"):
            return "random()"
        return null.format("random() * 1000 - 100")
    if sql_type in ("INTEGER", "BIGINT"):
        return f"CAST(floor(random() * 200) AS {sql_type})"
    return null.format("(['gr', 'ri', 'iz', 'ug'])[1 + CAST(floor(random() * 4) AS INTEGER)]")


def write_history(root: str, objects: int) -> MemoryHistory:
    rng = np.random.default_rng(17)
    ra = rng.uniform(0.0, 360.0, objects)
    decl = np.degrees(np.arcsin(rng.uniform(-1.0, 0.5, objects)))
    pix = cells_of(ra, decl, PIXEL_DEPTH)
    csv = os.path.join(root, "positions.csv")
    np.savetxt(csv, np.column_stack([np.arange(objects), ra, decl, pix]), fmt=["%d", "%.10f", "%.10f", "%d"],
               delimiter=",", header="i,ra,decl,pix", comments="")
    files = MemoryHistory(root)
    conn = duckdb.connect(":memory:")
    conn.execute("SET threads = 1")  # setseed: one thread, one sequence
    conn.execute(f"CREATE TABLE p AS SELECT * FROM read_csv('{csv}', types = {{'pix': 'UBIGINT'}})")
    for night in NIGHTS:
        directory = os.path.join(root, OBJECTS_HISTORY.night_prefix(night))
        os.makedirs(directory, exist_ok=True)
        conn.execute(f"SELECT setseed({NIGHTS.index(night) / 10})")
        columns = ", ".join(f'{_column_sql(c.name, c.sql_type, night)} AS "{c.name}"' for c in OBJECTS_HISTORY.columns)
        conn.execute(f"COPY (SELECT {columns} FROM p ORDER BY p.pix) TO '{directory}/part-0.parquet' "
                     "(FORMAT parquet, ROW_GROUP_SIZE 10240)")
    conn.close()
    return files


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def latest_batch(files: MemoryHistory, columns: list[str]) -> BatchRows:
    """The newest row of every object, the columns a filter reads, as the matcher's batch rows."""
    engine = DuckDbHistory(files)
    h_cols = ", ".join(f'"{c}"' for c in columns)
    sql = (f"SELECT {h_cols} FROM (SELECT *, row_number() OVER (PARTITION BY \"diaObjectId\" ORDER BY \"alertMjdTai\" "
           f"DESC) AS rn FROM objects_history) WHERE rn = 1")
    return BatchRows(objects=engine.query(sql, time_limit_s=600))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="history-bench-")
    start = time.perf_counter()
    files = write_history(root, args.objects)
    size = sum(f.stat().st_size for f in Path(files.local_dir(OBJECTS_HISTORY.name)).rglob("*.parquet"))
    print(f"history: {args.objects:,} objects x {len(NIGHTS)} nights = {args.objects * len(NIGHTS):,} rows, "
          f"{size / 2**20:.1f} MB Parquet, written in {time.perf_counter() - start:.1f} s")
    engine = DuckDbHistory(files)
    figures: dict[str, Any] = {"objects": args.objects, "rows": args.objects * len(NIGHTS), "parquet_mb": round(size / 2**20, 1),
                               "cores": os.cpu_count(), "python": platform.python_version(), "duckdb": duckdb.__version__}
    sqlite = SqliteEngine(time_limit_s=600.0, clock=lambda: (NOW_MJD - 40587.0) * 86400.0)
    for label, (selected, conditions) in FILTERS.items():
        compiled = compile_filter(FilterQuery(selected=selected, tables="objects", conditions=conditions))
        h = history_sql(compiled, "duckdb", now_mjd=NOW_MJD)
        run_now, rows = timed(lambda h=h: engine.query(queries.latest_rows(h, "duckdb", limit=1000, offset=0),
                                                       time_limit_s=600), args.repeat)
        batch = latest_batch(files, sorted({c for _, c in compiled.columns or ()}))
        base, outcome = timed(lambda c=compiled, b=batch: sqlite.run(b, [("f", c)])["f"], args.repeat)
        assert outcome.ok and len(outcome.rows) == len(rows)
        night = NIGHTS[-1]
        backtest, counts = timed(lambda h=h, n=night: (engine.query(queries.night_counts(h, "duckdb", n), time_limit_s=600),
                                                        engine.query(queries.night_sample(h, "duckdb", n, 20), time_limit_s=600)),
                                 args.repeat)
        print(f"{label}: run-now {run_now:.2f} s ({len(rows)} rows) | SQLite engine, the same {args.objects:,} latest rows as "
              f"one batch (load + run) {base:.2f} s, ratio {run_now / base:.1f}x | one-night backtest {backtest:.2f} s "
              f"({counts[0][0]['alerts']:,} of {counts[0][0]['total']:,} alerts matched)")
        key = "typical" if "typical" in label else "operators"
        figures |= {f"run_now_{key}_s": round(run_now, 3), f"sqlite_batch_{key}_s": round(base, 3),
                    f"backtest_night_{key}_s": round(backtest, 3)}
    [centre] = engine.query('SELECT "ra", "decl" FROM objects_history LIMIT 1', time_limit_s=60)  # an object's place
    for radius, label in ((10.0, "10arcsec"), (3600.0, "1deg")):
        seconds, found = timed(lambda r=radius: engine.query(queries.cone("duckdb", centre["ra"], centre["decl"], r,
                                                                          limit=10_000),
                                                             time_limit_s=600), args.repeat)
        print(f"cone {label}: {seconds:.2f} s, {len(found)} objects")
        figures[f"cone_{label}_s"] = round(seconds, 3)
    print(json.dumps({"benchmark": "history_query", **figures}))


if __name__ == "__main__":
    main()
