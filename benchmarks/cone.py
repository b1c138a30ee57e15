"""Cone searches over the objects' sky index: how many DynamoDB requests a cone of each radius costs.

For each radius (0.5, 1, 60, 1000 arcsec: Lasair's range and below), over ``--centres`` random
centres plus the poles and RA 0/360, the ranges of the ``by-sky`` index that cover the cone
(``skystream.domain.sky.cone_ranges``: one Query each, more only past 1 MB of index per range):
min / median / max, and the time to compute them. Then, with ``--objects`` objects spread over a
patch of sky at a uniform density in moto's DynamoDB (in process), the objects the ranges read
against those inside the cone (the over-read the exact distance throws away), the Queries and
BatchGetItem calls made (the index holds keys only; positions are read from the table, 100 a call)
and the wall time of ``ConeSearch.search``; the baseline is a full Scan of the same table (what a
cone costs without the index), in the same process.

Also the import the index adds: a fresh interpreter importing the HEALPix library (``healpix_geo``,
numpy with it) against a bare one, which is why ``skystream.domain.sky`` imports it on first use;
and the cost of one object's index keys (``sky_attributes``), which the ingest pays per alert.

    .venv/bin/python benchmarks/cone.py [--centres 200] [--objects 20000]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import time

from moto import mock_aws

RADII = (0.5, 1.0, 60.0, 1000.0)


def _import_time(statement: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", f"import time; t=time.perf_counter(); {statement}; "
                              "print(time.perf_counter()-t)"], capture_output=True, text=True, check=True)
        times.append(float(out.stdout))
    return statistics.median(times)


def ranges_per_radius(centres: int) -> dict[str, dict[str, float]]:
    from skystream.domain.sky import cone_ranges, query_depth

    rng = random.Random(18)
    points = [(10.0, 89.999), (200.0, -89.999), (0.0, 90.0), (359.9999, 0.0), (0.0001, 45.0)]
    points += [(rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))) for _ in range(centres)]
    out = {}
    cone_ranges(0.0, 0.0, 1.0)  # the first call imports the libraries
    for radius in RADII:
        started = time.perf_counter()
        counts = sorted(len(cone_ranges(ra, dec, radius)) for ra, dec in points)
        elapsed = time.perf_counter() - started
        out[f"{radius:g}"] = {"depth": query_depth(radius), "min": counts[0], "median": statistics.median(counts),
                              "max": counts[-1], "us_per_cone": 1e6 * elapsed / len(points)}
        print(f"radius {radius:6g}\": depth {query_depth(radius):2d}, ranges (Queries) min {counts[0]} "
              f"median {statistics.median(counts):g} max {counts[-1]} over {len(points)} centres, "
              f"{1e6 * elapsed / len(points):.0f} us to compute")
    return out


def against_scan(objects: int) -> dict[str, dict[str, float]]:
    """Objects uniform over a 4 x 4 degree patch at dec 30 in moto; cones at its centre."""
    import os

    for name, value in {"AWS_ACCESS_KEY_ID": "b", "AWS_SECRET_ACCESS_KEY": "b", "AWS_REGION": "us-east-1"}.items():
        os.environ.setdefault(name, value)
    from skystream import aws
    from skystream.local.stack import local_template
    from skystream.services.cone import ConeSearch
    from skystream.storage.bulk import batch_put
    from skystream.storage.objects import ObjectStore, object_item

    template = local_template("127.0.0.1:1")
    os.environ.update(template.environment)  # the settings a function has (nothing listens on the broker)
    table = template.environment["OBJECTS_TABLE"]
    os.environ.pop("AWS_ENDPOINT_URL", None)
    rng = random.Random(1)
    out = {}
    with mock_aws():
        aws.reset_clients()
        aws._client.cache_clear()
        dynamodb = aws.client("dynamodb")
        dynamodb.create_table(**template.tables[table])
        items = [object_item({"diaObjectId": i + 1, "ra": 148.0 + 4 * rng.random(), "decl": 28.0 + 4 * rng.random(),
                              "lastDiaSourceMjdTai": 61000.0}, {}).item for i in range(objects)]
        batch_put(dynamodb, table, items)
        store = ObjectStore(table)
        search = ConeSearch(store)
        started = time.perf_counter()
        scanned = sum(len(page["Items"]) for page in dynamodb.get_paginator("scan").paginate(
            TableName=table, ProjectionExpression="diaObjectId, ra, decl"))
        scan_s = time.perf_counter() - started
        for radius in RADII:
            started = time.perf_counter()
            result = search.search(150.0, 30.0, radius)
            elapsed = time.perf_counter() - started
            out[f"{radius:g}"] = {"matches": len(result.matches), "read": result.scanned,
                                  "queries": result.requests - result.gets, "batch_gets": result.gets,
                                  "ms": 1000 * elapsed, "scan_ms": 1000 * scan_s,
                                  "speedup_vs_scan": scan_s / elapsed}
            print(f"radius {radius:6g}\": {len(result.matches):5d} inside, {result.scanned:6d} read by "
                  f"{result.requests - result.gets} Queries + {result.gets} BatchGetItem, "
                  f"{1000 * elapsed:7.1f} ms; a Scan of all {scanned} objects "
                  f"{1000 * scan_s:.0f} ms ({scan_s / elapsed:.0f}x)")
        aws._client.cache_clear()
        aws.reset_clients()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--centres", type=int, default=200)
    parser.add_argument("--objects", type=int, default=20_000)
    args = parser.parse_args()
    bare = _import_time("pass")
    numpy = _import_time("import numpy") - bare
    library = _import_time("import healpix_geo.nested") - bare
    print(f"import numpy: {1000 * numpy:.0f} ms, healpix_geo (with numpy): {1000 * library:.0f} ms "
          "(fresh interpreter, median of 5, bare interpreter subtracted)")
    from skystream.domain.sky import sky_attributes

    sky_attributes(1.0, 2.0)
    started = time.perf_counter()
    for n in range(5000):
        sky_attributes(n * 0.07 % 360.0, (n * 0.013 % 180.0) - 90.0)
    keys_us = 1e6 * (time.perf_counter() - started) / 5000
    print(f"an object's index keys (sky_attributes): {keys_us:.0f} us")
    ranges = ranges_per_radius(args.centres)
    scan = against_scan(args.objects)
    print(json.dumps({"benchmark": "cone", "import_ms": {"numpy": 1000 * numpy, "healpix_geo": 1000 * library},
                      "keys_us": keys_us,
                      "ranges": ranges, "moto": scan, "objects": args.objects}))


if __name__ == "__main__":
    main()
