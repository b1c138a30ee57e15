"""Matching: alerts/s through the filter engine for 10, 100 and 1,000 active filters over
batches of 1,000 and 10,000 alerts, with peak memory, against a plain baseline.

What is measured: ``SqliteEngine.run`` on a batch (load the batch's rows into one fresh
in-memory SQLite database, then run every filter with its time limit and row cap). The
filters are the test corpus (tests/filter_corpus: bright/rising, colour pairs, reliability,
sherlock, TNS, annotators, jumps, MJD windows) cycled up to the filter count. The objects
rows come from generated alerts (``skystream.devtools.generator.generate_alerts`` ->
``skystream.features.objects_row``; ``--rows synthetic`` uses the corpus's random rows
instead), with random sherlock, TNS and annotation rows for those objects. Compilation
happens once, before timing, as in the matcher; generating the alerts is not timed.

Baseline, measured in the same run: the plain approach of one SQLite database per filter
(each filter gets its own freshly loaded database holding the batch, every column, then
runs its query). The engine instead loads the batch once, with only the columns its
filters read, and runs every filter on it; the ratio shows both savings together.
Loading 10,000 rows 1,000 times would take minutes, so the baseline runs a subsample of
the filters (``--baseline-sample``, default 3, spread evenly over the mix) and is scaled linearly to the full count;
the output says so. The ratio is baseline time / engine time for the same work.

Peak memory: tracemalloc's peak of Python allocations during one engine run of the
largest case (rows, results), the size of that batch's SQLite database (SQLite allocates
outside tracemalloc's view), and the process's peak RSS (``resource.getrusage``; a
high-water mark of the whole run, alert generation included).

    .venv/bin/python benchmarks/match.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "layers" / "core"))

from filter_corpus.corpus import CORPUS  # noqa: E402
from filter_corpus.rows import clock_for, make_batch, with_context  # noqa: E402

from skystream.filters.batch import BatchRows  # noqa: E402
from skystream.filters.compiler import CompiledFilter, FilterQuery, compile_filter  # noqa: E402
from skystream.filters.engine import SqliteEngine, loaded_database  # noqa: E402
from skystream.filters.schema import TABLES  # noqa: E402


def bench_batch(size: int, rows: str) -> BatchRows:
    """``size`` alerts' objects rows plus context rows for them."""
    if rows == "synthetic":
        return make_batch(size, seed=size)
    from skystream.devtools.generator import generate_alerts
    from skystream.features import objects_row

    objects: list[dict] = []
    for chunk in range(0, size, 1000):  # chunks: the full alerts are dropped once their rows exist
        alerts = generate_alerts(min(1000, size - chunk), seed=size * 1000 + chunk)
        objects.extend(objects_row(a) for a in alerts if a.get("diaObject"))
    return with_context(objects, seed=size)


def database_mb(batch: BatchRows) -> float:
    """Size of the batch's in-memory SQLite database (pages x page size)."""
    conn = loaded_database(batch, clock_for)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    return pages * size / 2**20


def compiled_mix(count: int) -> list[tuple[str, CompiledFilter]]:
    """The corpus's filter mix, cycled up to ``count`` filters."""
    base = [compile_filter(FilterQuery(**f.query)) for f in CORPUS]
    return [(f"f{i}", base[i % len(base)]) for i in range(count)]


def engine_seconds(engine: SqliteEngine, batch: BatchRows, filters: list[tuple[str, CompiledFilter]]) -> float:
    start = time.perf_counter()
    outcomes = engine.run(batch, filters)
    elapsed = time.perf_counter() - start
    failed = [k for k, o in outcomes.items() if not o.ok]
    if failed:
        raise SystemExit(f"benchmark filters failed: {failed[:5]}")
    return elapsed


def baseline_per_filter(batch: BatchRows, filters: list[tuple[str, CompiledFilter]], sample: int) -> tuple[float, int]:
    """Mean seconds per filter when each filter gets its own freshly loaded database."""
    step = max(1, len(filters) // max(1, sample))
    subset = filters[::step][: max(1, sample)]  # spread over the mix, not just its first entries
    start = time.perf_counter()
    for _, compiled in subset:
        conn = loaded_database(batch, clock_for)
        conn.execute(compiled.sqlite_sql).fetchmany(1001)
        conn.close()
    return (time.perf_counter() - start) / len(subset), len(subset)


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 1024.0 / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000-alert batches only (a smoke run)")
    parser.add_argument("--baseline-sample", type=int, default=3, help="filters run by the baseline per case")
    parser.add_argument("--rows", choices=["generator", "synthetic"], default="generator",
                        help="objects rows from generated alerts (default) or the corpus's random rows")
    args = parser.parse_args()

    sizes = [1000] if args.quick else [1000, 10000]
    counts = [10, 100, 1000]
    engine = SqliteEngine(time_limit_s=10.0, clock=clock_for)
    results = []
    print(f"matching benchmark: {len(CORPUS)} corpus filters cycled; python {platform.python_version()}, "
          f"{platform.machine()}, sqlite {__import__('sqlite3').sqlite_version}")
    print(f"rows: {args.rows}; baseline: one freshly loaded SQLite database per filter, {args.baseline_sample} filters per batch "
          "size, scaled linearly to each filter count")
    print(f"{'alerts':>7} {'filters':>7} {'engine s':>9} {'alerts/s':>10} {'baseline s':>11} {'ratio':>7}")
    batches: dict[int, BatchRows] = {}
    generated = time.perf_counter()
    everything = bench_batch(max(sizes), args.rows)
    made_s = time.perf_counter() - generated
    for size in sizes:
        wanted = {o["diaObjectId"] for o in everything.objects[:size]}
        batch = batches[size] = BatchRows(**{
            t: [r for r in everything.table(t) if r["diaObjectId"] in wanted] for t in TABLES})
        per_filter, sampled = baseline_per_filter(batch, compiled_mix(len(CORPUS)), args.baseline_sample)
        print(f"-- {size} alerts ({len(batch.objects)} objects rows, {len(batch.sherlock_classifications)} sherlock, "
              f"{len(batch.crossmatch_tns)} TNS, {len(batch.annotations)} annotations; made in "
              f"{made_s:.1f} s, not timed; baseline {per_filter:.3f} s per filter over {sampled} filters)")
        for count in counts:
            filters = compiled_mix(count)
            seconds = engine_seconds(engine, batch, filters)
            base = per_filter * count
            row = {"alerts": size, "filters": count, "engine_s": round(seconds, 4),
                   "alerts_per_s": round(size / seconds, 1), "baseline_s": round(base, 4),
                   "baseline_sampled_filters": sampled, "speedup_vs_baseline": round(base / seconds, 2)}
            results.append(row)
            print(f"{size:>7} {count:>7} {seconds:>9.3f} {size / seconds:>10.0f} {base:>11.3f} {base / seconds:>6.1f}x")

    largest = batches[sizes[-1]]
    filters = compiled_mix(counts[-1])
    tracemalloc.start()
    engine_seconds(engine, largest, filters)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    memory = {"tracemalloc_peak_mb": round(traced_peak / 2**20, 1), "sqlite_database_mb": round(database_mb(largest), 1),
              "peak_rss_mb": round(peak_rss_mb(), 1), "case": f"{sizes[-1]} alerts x {counts[-1]} filters"}
    print(f"memory, {memory['case']}: Python allocations peak {memory['tracemalloc_peak_mb']} MB (batch rows "
          f"included), SQLite batch database {memory['sqlite_database_mb']} MB; peak RSS of the whole run "
          f"(alert generation included) {memory['peak_rss_mb']} MB")
    print(json.dumps({"benchmark": "match", "rows": args.rows,
                      "baseline": "one freshly loaded sqlite database per filter (subsampled)",
                      "results": results, "memory": memory}))


if __name__ == "__main__":
    main()
