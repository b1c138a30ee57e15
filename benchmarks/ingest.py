"""Ingest throughput: alerts per second through decode + features + enriched record, then with real writes.

Part 1 (no I/O, per CPU-second): wire-format alerts carrying 10, 100 and 300 detections go through
what ingest does to each alert before its batch's writes: ``decode_alert`` -> ``objects_row`` +
lite lightcurve -> the enriched record (row, ``lite_z``, pointer) -> the archive member (the wire
record less its cutouts, gzip'd). The baseline measured in the same run is decoding alone
(fastavro), so the ratio says how much of the decode-only rate the whole pure pipeline keeps.
Beside it, measured on the same alerts: the enriched record as it was (the whole alert inline)
against the slim one, the archive member as it was (the full alert as gzip'd JSON) against the
wire form, and what a projection buys (fastavro decoding only the fields features and
lightcurves read, through a reader schema, against decoding everything).

Part 2 (with I/O): the same alerts through the real ingest service on a local stack this
script starts itself (tansu broker + moto server on free loopback ports): one S3 object per
batch, BatchGetItem + BatchWriteItem of the newer objects, idempotent produce to
``alerts-enriched`` and flush, per batch. Its ratio is against part 1's no-I/O rate.

    .venv/bin/python benchmarks/ingest.py [--quick]

Human-readable figures, then one JSON line. Runs in well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))

import copy
import gzip
import io

import fastavro
import orjson

from skystream.alerts.schema_files import parsed_schema
from skystream.alerts.wire import decode_alert, encode_alert
from skystream.devtools.generator import generate_alerts
from skystream.domain.objects import AlertPointer, AlertToArchive
from skystream.domain.records import KafkaRecord
from skystream.services.ingest import enrich
from skystream.storage.archive import pack_alerts

POINTER = AlertPointer(key="alerts/batches/" + "0" * 64 + ".jsonl.gz", offset=1_234_567, length=12_345)
# What features and lightcurves read of each point (features.inputs, alerts.lightcurve, alerts.wire's checks)
PROJECTED_SOURCE = ("diaSourceId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr", "reliability", "ra", "dec")
PROJECTED_FORCED = ("diaForcedSourceId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr")

HISTORIES = (10, 100, 300)


def _alerts(n: int, count: int) -> list[bytes]:
    return [encode_alert(a) for a in generate_alerts(count, seed=n, detections=n)]


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _time(fn, values: list[bytes], min_seconds: float) -> float:
    """Alerts per CPU-second of ``fn`` over ``values``, repeating until ``min_seconds`` of CPU.

    CPU time, not wall time: on a shared machine the wall clock measures the neighbours.
    """
    done, start = 0, time.process_time()
    while True:
        for value in values:
            fn(value)
        done += len(values)
        elapsed = time.process_time() - start
        if elapsed >= min_seconds:
            return _rate(done, elapsed)


def _pure(value: bytes) -> tuple[bytes, bytes]:
    """What ingest does to one alert before the batch's writes: the enriched record and the archive member."""
    decoded = decode_alert(value)
    record = enrich(decoded.alert, decoded.schema_version)
    member = pack_alerts([AlertToArchive(decoded.schema_version, wire=decoded.without_cutouts)]).body
    record.alert, record.alert_pointer = None, POINTER
    return record.to_bytes(), member


def _old_record(value: bytes) -> bytes:
    """The enriched record as main at 923ad4f made it: row, lite and the whole alert, as JSON."""
    decoded = decode_alert(value)
    record = enrich(decoded.alert, decoded.schema_version)
    return orjson.dumps({"objects": record.objects, "lite": record.lite, "alert": record.alert,
                         "schema_version": record.schema_version})


def _old_member(value: bytes) -> bytes:
    decoded = decode_alert(value)
    return pack_alerts([AlertToArchive(decoded.schema_version, full=enrich(decoded.alert, "11.1").alert)]).body


def _projected_schema(version: str = "11.1") -> object:
    """A reader schema of the fields features and lightcurves read (fastavro skips the rest)."""
    raw = copy.deepcopy(parsed_schema(version))

    def keep(record: dict, names: tuple[str, ...]) -> dict:
        return {**record, "fields": [f for f in record["fields"] if f["name"] in names]}

    fields = []
    raw_source_name = ""
    for field in raw["fields"]:
        if field["name"].startswith("cutout"):
            continue
        if field["name"] == "diaSource":
            field = {**field, "type": keep(field["type"], PROJECTED_SOURCE)}
            raw_source_name = field["type"]["name"]
        elif field["name"] == "prvDiaSources":  # items name the (projected) diaSource record defined above
            field = {**field, "type": ["null", {"type": "array", "items": raw_source_name}]}
        elif field["name"] == "prvDiaForcedSources":
            field = {**field, "type": ["null", {"type": "array", "items": keep(
                next(t for t in field["type"] if t != "null")["items"], PROJECTED_FORCED)}]}
        fields.append(field)
    raw["fields"] = fields
    return fastavro.parse_schema(raw, _force=True)


def _decoder(reader_schema: object | None):
    writer = parsed_schema("11.1")

    def decode(value: bytes) -> object:
        return fastavro.schemaless_reader(io.BytesIO(value[5:]), writer, reader_schema)
    return decode


def _ms(fn, values: list[bytes]) -> float:
    began = time.process_time()
    for value in values:
        fn(value)
    return 1000 * (time.process_time() - began) / len(values)


def bench_no_io(counts: dict[int, int], min_seconds: float) -> dict[str, dict[str, float]]:
    print("== decode + features + enriched record + archive member (no I/O): alerts per CPU-second, one thread")
    print(f"{'detections':>10} {'decode only /s':>15} {'full pure /s':>13} {'ratio':>7} {'ms/alert':>9} "
          f"{'record KB old/new':>18} {'archive KB old/new':>19} {'archive ms old/new':>19} {'projected decode':>17}")
    results = {}
    projected = _decoder(_projected_schema())
    for n in HISTORIES:
        values = _alerts(n, counts[n])
        decode_rate = _time(decode_alert, values, min_seconds)
        pure_rate = _time(_pure, values, min_seconds)
        made = [_pure(v) for v in values]
        size_kb = sum(len(r) for r, _ in made) / len(values) / 1024
        old_kb = sum(len(_old_record(v)) for v in values) / len(values) / 1024
        member_kb = sum(len(m) for _, m in made) / len(values) / 1024
        old_member_kb = sum(len(_old_member(v)) for v in values) / len(values) / 1024
        wire = [decode_alert(v) for v in values]
        member_ms = _ms(lambda d: gzip.compress(d.without_cutouts, 5, mtime=0), wire)
        old_member_ms = _ms(lambda d: gzip.compress(orjson.dumps(
            {"schema_version": "11.1", "alert": enrich(d.alert, "11.1").alert}), 5, mtime=0), wire)
        old_member_ms -= _ms(lambda d: enrich(d.alert, "11.1"), wire)  # the JSON and its gzip, not the features
        full_ms, projected_ms = _ms(_decoder(None), values), _ms(projected, values)
        results[str(n)] = {"decode_only_per_s": round(decode_rate, 1), "alerts_per_s": round(pure_rate, 1),
                           "ratio_to_decode_only": round(pure_rate / decode_rate, 3),
                           "enriched_record_kb": round(size_kb, 1), "enriched_record_kb_old": round(old_kb, 1),
                           "archive_member_kb": round(member_kb, 1), "archive_member_kb_old": round(old_member_kb, 1),
                           "archive_member_ms": round(member_ms, 3), "archive_member_ms_old": round(old_member_ms, 3),
                           "decode_ms_full": round(full_ms, 3), "decode_ms_projected": round(projected_ms, 3),
                           "avro_kb": round(sum(map(len, values)) / len(values) / 1024, 1)}
        print(f"{n:>10} {decode_rate:>15.0f} {pure_rate:>13.0f} {pure_rate / decode_rate:>7.2f} "
              f"{1000 / pure_rate:>9.2f} {old_kb:>9.1f} /{size_kb:>6.1f} {old_member_kb:>10.1f} /{member_kb:>6.1f} "
              f"{old_member_ms:>10.2f} /{member_ms:>6.2f} {projected_ms / full_ms:>10.2f}x time")
    return results


def bench_with_io(counts: dict[int, int], no_io: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    from skystream.local.testing import EphemeralStack
    from skystream.wiring.ingest import ingest_service

    for name in ("KAFKA_BOOTSTRAP_SERVERS", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)  # always a private stack on free ports, never someone's running one
    started = time.perf_counter()
    stack = EphemeralStack().start()
    try:
        stack.reset()
        print(f"\n== with DynamoDB + S3 + Kafka writes (local stack started in {time.perf_counter() - started:.1f} s: "
              f"tansu {stack.bootstrap}, moto {stack.endpoint})")
        print(f"{'detections':>10} {'batch':>6} {'alerts/s (wall)':>15} {'ratio to no-I/O':>16} {'ms/batch':>9}")
        service = ingest_service()
        results = {}
        for n in HISTORIES:
            values = _alerts(n, counts[n])
            records = [KafkaRecord("alerts", 0, i, v) for i, v in enumerate(values)]
            service.process(records[:5])  # warm the clients and the topic metadata
            start = time.perf_counter()
            report = service.process(records)
            elapsed = time.perf_counter() - start
            assert report.enriched == len(records) and report.dead_lettered == 0, report
            rate = _rate(len(records), elapsed)
            ratio = rate / no_io[str(n)]["alerts_per_s"]
            results[str(n)] = {"alerts_per_s": round(rate, 1), "batch": len(records),
                               "ratio_to_no_io": round(ratio, 3), "batch_seconds": round(elapsed, 3)}
            print(f"{n:>10} {len(records):>6} {rate:>15.0f} {ratio:>16.2f} {elapsed * 1000:>9.0f}")
        return results
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer alerts (a smoke run)")
    parser.add_argument("--no-io", action="store_true", help="skip the local-stack part")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    counts = {10: int(400 * scale), 100: int(100 * scale), 300: int(40 * scale)}
    begin = time.perf_counter()
    no_io = bench_no_io(counts, min_seconds=0.5 * scale + 0.25)
    with_io = None if args.no_io else bench_with_io({10: int(300 * scale), 100: int(100 * scale),
                                                     300: int(40 * scale)}, no_io)
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
               "system": platform.platform(terse=True)}
    print(f"\ntotal {time.perf_counter() - begin:.1f} s on {machine['cpus']} CPUs ({machine['system']})")
    print(json.dumps({"benchmark": "ingest", "baseline": "decode_alert alone (no I/O); no-I/O pipeline (with I/O)",
                      "units": "no_io: alerts per CPU-second; with_io: alerts per wall second",
                      "no_io": no_io, "with_io": with_io, "machine": machine}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
