"""Watchlists in matching: alerts/s of a 1,000-alert batch with 10 watchlists of 100,000 sources each,
against the same batch with no watchlist filter, in one process.

What is timed, per batch, is what the matcher does: ``Joins.build`` (for the watchlist case: the batch's
positions against the 10 watchlists through ``services.watchlists.WatchlistMatcher``, each a
``domain.watchlist_match.SourceIndex``: HEALPix cells of the largest cone, then exact distances; one index for all 10) and
``SqliteEngine.run`` of the batch's filters. Cases:

- ``none``: 10 filters on objects alone (the corpus's first objects-only filter, 10 times), no watchlists named;
- ``small radii``: the same 10 filters plus 10 filters, each joining one watchlist (``watchlist:N``), sources
  uniform over the sky with radii 1-10" (a catalogue of galaxies or CVs);
- ``large radii``: as above, radii 1-1800" (Lasair's largest), so each index is at depth 6 and a position
  has ~100 candidates per watchlist.

The index of the 10 watchlists is built once per process and kept (the sources of a watchlist never change);
building it is timed apart (``index_build_s``) and is not in the per-batch figure, as in a warm matcher. Reading
the sources from DynamoDB is not timed (an in-memory repository). The objects rows come from generated alerts.
The baseline ``none`` runs the same batch with the same ``Joins``, whose watchlist matcher holds 10 watchlists:
``watchlist_calls`` shows it is never called when no filter names a watchlist.

- ``watchmaps``: the same 10 objects filters plus 10 filters, each joining one watchmap (``watchmap:N``); each
  watchmap is the union of 20 cones of 1-5 degrees at random places, at depth 10 (~3.4' cells: a
  gravitational-wave-like footprint of several hundred deg^2 and thousands of ranges). Per batch: each
  position's depth-29 pixel once, then one vectorised search per MOC (``services.watchmaps.WatchmapMatcher``).
  ``watchmap_calls`` of the ``none`` case (its ``Joins`` holds the same 10 watchmaps) shows a batch without
  watchmap filters does no watchmap work.

    .venv/bin/python benchmarks/watchlist.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "layers" / "core"))

from fakes import MemoryAnnotations, MemoryContext, MemoryWatchlists, MemoryWatchmaps  # noqa: E402

from skystream.devtools.generator import generate_alerts  # noqa: E402
from skystream.domain.watchlists import MAX_SOURCES, Source  # noqa: E402
from skystream.domain.watchmaps import from_cone, parse, to_ascii  # noqa: E402
from skystream.features import objects_row  # noqa: E402
from skystream.filters.compiler import FilterQuery, compile_filter  # noqa: E402
from skystream.filters.engine import SqliteEngine  # noqa: E402
from skystream.services.joins import Joins  # noqa: E402
from skystream.services.watchlists import WatchlistMatcher  # noqa: E402
from skystream.services.watchmaps import WatchmapMatcher  # noqa: E402

WATCHLISTS = 10


def random_sources(n: int, rng: random.Random, max_radius: float) -> list[Source]:
    """Uniform over the sphere (dec from arcsin), radii log-uniform from 1" to ``max_radius``."""
    import math
    return [Source(i + 1, rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1))), f"s{i + 1}",
                   math.exp(rng.uniform(0, math.log(max_radius)))) for i in range(n)]


def footprints(rng: random.Random) -> MemoryWatchmaps:
    """10 watchmaps, each the union of 20 cones of 1-5 degrees at depth 10 (see the module docstring)."""
    import math
    maps = MemoryWatchmaps()
    for _ in range(WATCHLISTS):
        text = " ".join(to_ascii(from_cone(rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1))),
                                           rng.uniform(1, 5) * 3600, depth=10)) for _ in range(20))
        maps.add(owner=1, name="bench", description="", public=False, active=True, moc=parse(text))
    return maps


def case(name: str, objects: list[dict], max_radius: float | None, sources: int, repeats: int,
         with_maps: bool = False) -> dict:
    maps = footprints(random.Random(23))
    store = MemoryWatchlists()
    rng = random.Random(19)
    for _ in range(WATCHLISTS):
        store.add(owner=1, name="bench", description="", radius=2.0, public=False, active=True,
                  sources=random_sources(sources, rng, max_radius or 10.0))
    matcher = WatchlistMatcher(store)
    joins = Joins(annotations=MemoryAnnotations(), context=MemoryContext(), watchlists=matcher,
                  watchmaps=WatchmapMatcher(maps))
    plain = [compile_filter(FilterQuery(selected="objects.diaObjectId, objects.ra", tables="objects",
                                        conditions=f"objects.nDiaSources >= {k}")) for k in range(WATCHLISTS)]
    on_lists = [compile_filter(FilterQuery(selected="objects.diaObjectId, watchlist_hits.name, watchlist_hits.arcsec",
                                           tables=f"objects, watchlist:{wl}", conditions=""))
                for wl in range(1, WATCHLISTS + 1)] if max_radius else []
    on_maps = [compile_filter(FilterQuery(selected="objects.diaObjectId, area_hits.ar_id",
                                          tables=f"objects, watchmap:{ar}", conditions=""))
               for ar in range(1, WATCHLISTS + 1)] if with_maps else []
    filters = [(f"f{i}", c) for i, c in enumerate(plain + on_lists + on_maps)]
    built = time.perf_counter()
    matcher.index(range(1, WATCHLISTS + 1))
    index_s = time.perf_counter() - built
    engine = SqliteEngine(time_limit_s=30.0)
    times, hits, rows, area_hits = [], 0, 0, 0
    for _ in range(repeats):
        start = time.perf_counter()
        batch = joins.build(objects, [c for _, c in filters])
        outcomes = engine.run(batch, filters)
        times.append(time.perf_counter() - start)
        hits = len(batch.watchlist_hits)
        area_hits = len(batch.area_hits)
        rows = sum(len(o.rows) for o in outcomes.values())
        assert all(o.ok for o in outcomes.values())
    seconds = statistics.median(times)
    return {"case": name, "watchlists": WATCHLISTS if max_radius else 0, "sources_each": sources if max_radius else 0,
            "max_radius_arcsec": max_radius, "alerts": len(objects), "filters": len(filters),
            "batch_s": round(seconds, 4), "alerts_per_s": round(len(objects) / seconds, 1),
            "index_build_s": round(index_s, 2) if max_radius else 0.0, "watchlist_hits": hits, "rows": rows,
            "watchlist_calls": store.settings_reads, "watchmaps": WATCHLISTS if with_maps else 0,
            "watchmap_ranges_each": round(statistics.mean(m.ranges for m in maps.mocs.values())),
            "watchmap_sky_fraction_each": round(statistics.mean(m.sky_fraction() for m in maps.mocs.values()), 4),
            "area_hits": area_hits, "watchmap_calls": maps.settings_reads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 sources per watchlist, 1 repeat (a smoke run)")
    args = parser.parse_args()
    sources = 10_000 if args.quick else MAX_SOURCES
    repeats = 1 if args.quick else 3
    alerts = generate_alerts(1000, seed=19)
    objects = [objects_row(a) for a in alerts if a.get("diaObject")]
    print(f"watchlist benchmark: 1 process, python {platform.python_version()}, {platform.machine()}; "
          f"{len(objects)} alerts a batch, median of {repeats}")
    results = [case("none", objects, None, sources, repeats),
               case("small radii", objects, 10.0, sources, repeats),
               case("large radii", objects, 1800.0, sources, repeats),
               case("watchmaps", objects, None, sources, repeats, with_maps=True)]
    base = results[0]["batch_s"]
    print(f"{'case':>12} {'lists':>5} {'sources':>8} {'filters':>7} {'batch s':>8} {'alerts/s':>9} {'vs none':>8} "
          f"{'hits':>6} {'index s':>8}")
    for r in results:
        r["slowdown_vs_none"] = round(r["batch_s"] / base, 2)
        print(f"{r['case']:>12} {r['watchlists']:>5} {r['sources_each']:>8} {r['filters']:>7} {r['batch_s']:>8.3f} "
              f"{r['alerts_per_s']:>9.0f} {r['slowdown_vs_none']:>7.1f}x {r['watchlist_hits']:>6} "
              f"{r['index_build_s']:>8.2f}")
    print(f"no watchlist filter: the watchlist matcher was called {results[0]['watchlist_calls']} time(s); "
          f"no watchmap filter: the watchmap matcher was called {results[0]['watchmap_calls']} time(s)")
    maps = results[-1]
    print(f"watchmaps: {maps['watchmaps']} of ~{maps['watchmap_ranges_each']} ranges, "
          f"{maps['watchmap_sky_fraction_each'] * 41253:.0f} deg2 each: {maps['alerts_per_s']:.0f} alerts/s, "
          f"{maps['slowdown_vs_none']:.2f}x the batch time of none, {maps['area_hits']} area_hits")
    print(json.dumps({"benchmark": "watchlist", "baseline": "the same batch with no watchlist or watchmap filter "
                      "(case none)",
                      "results": results}))


if __name__ == "__main__":
    main()
