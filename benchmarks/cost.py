"""What ingest costs at Rubin's rate: requests and bytes per alert, measured on the local stack, priced per month.

The script starts its own local stack (tansu + moto on free loopback ports) and sends batches
of 500 generated alerts (the template's ``BatchSize``) through the real ingest service. Every
AWS call is counted at the boto3 clients (``skystream.local.metering.RequestMeter``: requests
per service and operation, DynamoDB write and read units by AWS's item-size rules, S3 bytes);
the enriched records are sent to the broker by a producer configured as the ingest producer is
(zstd, linger 5 ms, idempotent), whose librdkafka statistics give the bytes it sent.

The layouts before this change (main at 923ad4f: one conditional PutItem of an item with ~80
native attributes and the lite lightcurve, one S3 PUT of the alert as gzip'd JSON, an enriched
record carrying the whole alert) are rebuilt from the same alerts in the same run, with the
same counting rules, for the "old" column.

Then a month at 10 M alerts a night, 30 nights, us-east-1 list prices as docs/deploy.md uses
them (late 2025; :data:`PRICES`). What this run does not measure is taken from docs/deploy.md's
derivation and named as such (:data:`STATED`): the alert on the wire (80 KB with cutouts),
MSK brokers, Lambda, the relay, the matcher's other DynamoDB reads, the small services, and
~50 M objects stored. Index writes are modelled, not metered: the ``by-night`` index (keys only)
changes its sort key with every newer alert, which DynamoDB bills as a delete and a put of the
index entry (2 write units; docs/deploy.md left them out, so its old figure is re-derived here too).
The ``by-sky`` index (issue 18; keys only, keyed on the object's ~3.2" HEALPix pixel) is written
when an object is new (1 unit) or its position crosses into another pixel (2 units); DynamoDB
writes nothing to it when neither changes. New objects per alert are derived from what is stated
(at most ~50 M a month: the table keeps every object and holds ~50 M, so it cannot have gained
more than that in the month priced; 50 M / 300 M alerts = 0.17), and how far an object's mean
position moves with a newer alert is stated (0.1", generous: Rubin's per-visit astrometric error
is ~10-100 mas and the mean of N detections moves by about that / N); the crossing rate for such a
move is measured here on the index keys themselves (``skystream.domain.sky.sky_attributes``).
The "before" layout had no ``by-sky`` index (0).

    .venv/bin/python benchmarks/cost.py [--quick]

Human-readable figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))

import confluent_kafka
import orjson
from boto3.dynamodb.types import TypeSerializer

from skystream import aws, wiring
from skystream.alerts.lightcurve import full_alert, lite_lightcurve
from skystream.alerts.wire import decode_alert, encode_alert
from skystream.config import settings
from skystream.devtools.generator import generate_alerts
from skystream.domain.records import KafkaRecord
from skystream.features import objects_row
from skystream.local.metering import RequestMeter, item_size, write_units
from skystream.local.testing import EphemeralStack
from skystream.services.ingest import IngestService
from skystream.storage.dynamo_values import to_dynamo
from skystream.wiring.kafka import internal_producer

BATCH = 500
NIGHTS = 30
ALERTS_PER_NIGHT = 10_000_000
ALERTS_PER_MONTH = ALERTS_PER_NIGHT * NIGHTS
GB = 1024**3
PRICES = {  # us-east-1 list prices, as docs/deploy.md (late 2025); checked 2026-12-07 against summaries of AWS's pages
    "s3_put_per_1000": 0.005,
    "s3_get_per_1000": 0.0004,
    "s3_standard_gb_month": 0.023,
    "s3_glacier_ir_gb_month": 0.004,
    "dynamodb_wru_per_million": 0.625,
    "dynamodb_rru_per_million": 0.125,
    "dynamodb_gb_month": 0.25,
    "msk_storage_gb_month": 0.10,
}
STATED = {  # docs/deploy.md's figures for what this script does not measure (per month unless said)
    "alert_on_the_wire_kb": 80,  # with cutouts: what the relay copies into topic `alerts`
    "objects_stored": 50_000_000,
    "replication": 3,
    "lambda": 65,
    "msk_brokers": 450,
    "dynamodb_other_reads": 125,  # the matcher's joins, reseeds, quota, digest
    "relay": 9,
    "small_services": 30,  # API Gateway, SES, SQS, Scheduler, CloudWatch
    "index_wru_per_write": 2,  # by-night keys-only index: delete + put of the entry when the sort key changes
    "sky_move_arcsec": 0.1,  # how far an object's mean position moves with a newer alert (generous, not measured)
    "archive_months_kept": 12,  # steady state of the archive: a month in Standard, the rest in Glacier IR
}
OLD_TABLE = {  # README.md's table as it stood (docs/deploy.md's derivation), for reference
    "Lambda": 65, "DynamoDB": 1125, "S3": 1525, "MSK": 1450, "Relay": 9, "Other": 30, "total": 4200,
}


@dataclass
class PerAlert:
    """What one alert costs in requests and bytes (averaged over a run of batches)."""

    s3_puts: float
    s3_put_bytes: float
    dynamodb_write_requests: float
    dynamodb_wru: float
    dynamodb_rru: float
    objects_items_written: float
    objects_item_bytes: float
    enriched_record_bytes: float
    enriched_kafka_bytes: float  # zstd record batches, as sent to the broker
    archive_bytes: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in vars(self).items()}


class SentBytes:
    """A producer configured as the ingest producer is; ``send(values)`` returns the bytes librdkafka sent."""

    def __init__(self, login: dict[str, Any], topic: str):
        """``login``: the stack's client settings (its broker logs clients in: ``EphemeralStack.client_config``)."""
        self.topic = topic
        self._stats: dict[str, Any] = {}
        self._producer = confluent_kafka.Producer({
            **login, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
            "compression.type": "zstd", "message.max.bytes": 5_000_000, "statistics.interval.ms": 100,
            "stats_cb": self._on_stats})

    def _on_stats(self, text: str) -> None:
        self._stats = json.loads(text)

    def _txbytes(self) -> int:
        self._stats = {}
        deadline = time.monotonic() + 5
        while not self._stats and time.monotonic() < deadline:
            self._producer.poll(0.05)
        return sum(b.get("txbytes", 0) for b in self._stats.get("brokers", {}).values())

    def send(self, values: list[tuple[bytes, bytes]]) -> int:
        before = self._txbytes()
        for key, value in values:
            self._producer.produce(self.topic, value, key=key)
            self._producer.poll(0)
        if self._producer.flush(30):
            raise RuntimeError("the broker did not take every record")
        return self._txbytes() - before


class Capture:
    """The ingest producer, recording what it sends to ``alerts-enriched`` (delegates everything)."""

    def __init__(self, inner: Any, topic: str):
        self.inner, self.topic, self.sent = inner, topic, []

    def fits(self, value: bytes, key: bytes | None = None) -> bool:
        return self.inner.fits(value, key)

    def produce(self, topic: str, value: bytes, key: Any = None, headers: Any = None) -> bool:
        if topic == self.topic:
            self.sent.append((str(key).encode(), value))
        return self.inner.produce(topic, value, key=key, headers=headers)

    def flush(self, timeout: float = 30.0) -> int:
        return self.inner.flush(timeout)


def _old_item_size(alert: dict[str, Any]) -> int:
    """The objects item as main at 923ad4f wrote it: non-NULL columns native, lite_z, night, ids, updated."""
    row, lite = objects_row(alert), lite_lightcurve(alert)
    serialize = TypeSerializer().serialize
    item = {k: serialize(v) for k, v in to_dynamo(row).items() if v is not None}
    item |= {"diaSourceId": serialize(alert.get("diaSourceId") or 0),
             "night": serialize(int(row["lastDiaSourceMjdTai"] + 0.5)),
             "lite_z": {"B": zlib.compress(orjson.dumps(lite), 6)}, "schema_version": {"S": "11.1"},
             "updated": {"S": "2026-12-07 00:00:00"}}
    return item_size(item)


def measure(stack: EphemeralStack, detections: int, count: int) -> dict[str, Any]:
    """Ingest ``count`` alerts of ``detections`` detections in batches of 500; new and old per-alert usage.

    Each object's previous alert is ingested first, not counted: as at Rubin, where most alerts are of
    objects already stored, the counted alerts find their objects (read units, index updates).
    """
    stack.reset()
    both = generate_alerts(2 * count, seed=1000 + detections, detections=detections, alerts_per_object=2)
    previous = [encode_alert(a) for a in both[0::2]]
    alerts = both[1::2]
    values = [encode_alert(a) for a in alerts]
    cfg = settings()
    capture = Capture(internal_producer(), cfg.topic_enriched)
    service = IngestService(capture, wiring.objects(), wiring.archive(), enriched_topic=cfg.topic_enriched,
                            dlq_topic=cfg.topic_dlq)
    for start in range(0, count, BATCH):  # the objects' previous alerts, and the clients' warm-up: not counted
        service.process([KafkaRecord("alerts", 0, start + i, v) for i, v in enumerate(previous[start:start + BATCH])])
    capture.sent.clear()
    meter = RequestMeter([aws.client("dynamodb"), aws.client("s3")])
    cpu = 0.0
    with meter:
        for start in range(0, count, BATCH):
            batch = [KafkaRecord("alerts", 0, start + i, v) for i, v in enumerate(values[start:start + BATCH])]
            began = time.process_time()
            report = service.process(batch)
            cpu += time.process_time() - began
            if report.dead_lettered or report.enriched != len(batch):
                raise RuntimeError(f"ingest lost alerts: {report}")
    usage = meter.usage
    sender = SentBytes(stack.client_config(), cfg.topic_enriched + "-cost")
    enriched_kafka = sender.send(capture.sent)
    items = usage.items_written[cfg.objects_table] - usage.requests["dynamodb.UpdateItem"]
    new = PerAlert(
        s3_puts=usage.requests["s3.PutObject"] / count, s3_put_bytes=usage.s3_put_bytes / count,
        dynamodb_write_requests=usage.count("dynamodb", ["BatchWriteItem", "PutItem", "UpdateItem"]) / count,
        dynamodb_wru=usage.write_units / count, dynamodb_rru=usage.read_units / count,
        objects_items_written=items / count,
        objects_item_bytes=usage.bytes_written[cfg.objects_table] / max(1, items),
        enriched_record_bytes=sum(len(v) for _, v in capture.sent) / count,
        enriched_kafka_bytes=enriched_kafka / count, archive_bytes=usage.s3_put_bytes / count)

    decoded = [decode_alert(v).alert for v in values]
    old_items = [_old_item_size(a) for a in decoded]
    old_records = [(str(a["diaObject"]["diaObjectId"]).encode(), orjson.dumps(
        {"objects": objects_row(a), "lite": lite_lightcurve(a), "alert": full_alert(a), "schema_version": "11.1"}))
        for a in decoded]
    old_archive = [len(gzip.compress(orjson.dumps({"schema_version": "11.1", "alert": full_alert(a)}), 5))
                   for a in decoded]
    old = PerAlert(
        s3_puts=1.0, s3_put_bytes=sum(old_archive) / count, dynamodb_write_requests=1.0,
        dynamodb_wru=sum(write_units(s) for s in old_items) / count, dynamodb_rru=0.0,
        objects_items_written=1.0, objects_item_bytes=sum(old_items) / count,
        enriched_record_bytes=sum(len(v) for _, v in old_records) / count,
        enriched_kafka_bytes=sender.send(old_records) / count, archive_bytes=sum(old_archive) / count)
    return {"detections": detections, "alerts": count, "batch": BATCH, "new": new, "old": old,
            "requests": dict(usage.requests), "ingest_cpu_ms_per_alert": round(1000 * cpu / count, 2)}


def _moved(ra: float, dec: float, arcsec: float, angle: float) -> tuple[float, float]:
    """The point ``arcsec`` from (ra, dec) along position angle ``angle`` radians (exact, on the sphere)."""
    d, d0 = math.radians(arcsec / 3600), math.radians(dec)
    dec2 = math.asin(math.sin(d0) * math.cos(d) + math.cos(d0) * math.sin(d) * math.cos(angle))
    ra2 = math.radians(ra) + math.atan2(math.sin(angle) * math.sin(d) * math.cos(d0),
                                        math.cos(d) - math.sin(d0) * math.sin(dec2))
    return math.degrees(ra2) % 360.0, math.degrees(dec2)


def sky_index_model(samples: int = 20_000) -> dict[str, float]:
    """Write units per alert of the ``by-sky`` index: 1 per new object, 2 per pixel crossing (a delete and a
    put), nothing otherwise. The crossing rate is measured: ``samples`` positions uniform on the sky, each
    moved by :data:`STATED` ``sky_move_arcsec`` in a random direction, keys compared."""
    from skystream.domain.sky import sky_attributes

    rng = random.Random(18)
    crossed = 0
    for _ in range(samples):
        ra, dec = rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))
        moved = _moved(ra, dec, STATED["sky_move_arcsec"], rng.uniform(0, 2 * math.pi))
        crossed += sky_attributes(ra, dec) != sky_attributes(*moved)
    new = STATED["objects_stored"] / ALERTS_PER_MONTH  # at most: see the module docstring
    crossing = crossed / samples
    return {"new_objects_per_alert": new, "crossing_rate": crossing,
            "wru_per_alert": new * 1 + (1 - new) * crossing * 2}


def monthly(per: PerAlert, *, alerts_retention_h: float, enriched_retention_h: float,
            batched_archive: bool, sky_wru_per_alert: float = 0.0) -> dict[str, float]:
    """Dollars a month at 10 M alerts a night for one layout's per-alert usage (``sky_wru_per_alert``: the
    ``by-sky`` index's modelled write units an alert, 0 for a layout without it)."""
    p, s, n = PRICES, STATED, ALERTS_PER_MONTH
    index_wru = per.objects_items_written * s["index_wru_per_write"]
    dynamodb = {
        "writes (objects items)": n * per.dynamodb_wru * p["dynamodb_wru_per_million"] / 1e6,
        "writes (by-night index)": n * index_wru * p["dynamodb_wru_per_million"] / 1e6,
        "writes (by-sky index)": n * sky_wru_per_alert * p["dynamodb_wru_per_million"] / 1e6,
        "reads (newer-only check)": n * per.dynamodb_rru * p["dynamodb_rru_per_million"] / 1e6,
        "reads (matcher, reseeds, quota, digest)": s["dynamodb_other_reads"],
        "storage": s["objects_stored"] * per.objects_item_bytes / GB * p["dynamodb_gb_month"],
    }
    archive_gb_month = n * per.archive_bytes / GB
    if batched_archive:  # every alert kept: a month in Standard, then Glacier Instant Retrieval (steady state)
        storage = archive_gb_month * (p["s3_standard_gb_month"]
                                      + (s["archive_months_kept"] - 1) * p["s3_glacier_ir_gb_month"])
    else:  # the latest alert per object, overwritten; mostly Standard-IA after 30 days (docs/deploy.md: ~$25)
        storage = s["objects_stored"] * per.archive_bytes / GB * 0.0125
    s3 = {"PUT": n * per.s3_puts * p["s3_put_per_1000"] / 1000, "storage": storage}
    nightly_gb = ALERTS_PER_NIGHT * s["alert_on_the_wire_kb"] * 1024 / GB
    enriched_gb = ALERTS_PER_NIGHT * per.enriched_kafka_bytes / GB
    stored_gb = (nightly_gb * alerts_retention_h / 24 + enriched_gb * enriched_retention_h / 24) * s["replication"]
    msk = {"brokers": s["msk_brokers"], "storage": stored_gb * p["msk_storage_gb_month"]}
    lines = {**{f"DynamoDB {k}": v for k, v in dynamodb.items()}, **{f"S3 {k}": v for k, v in s3.items()},
             **{f"MSK {k}": v for k, v in msk.items()}, "Lambda (all five functions)": s["lambda"],
             "Relay on Fargate": s["relay"], "API Gateway, SES, SQS, Scheduler, CloudWatch": s["small_services"]}
    lines["total"] = sum(lines.values())
    return {k: round(v, 1) for k, v in lines.items()}


def retention_hours(stack: EphemeralStack, topic: str) -> float:
    """A topic's retention as infra/template.yaml declares it."""
    assert stack.template is not None
    (spec,) = [t for t in stack.template.topics if t.name == topic]
    return spec.retention_ms / 3_600_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one batch per profile (a smoke run)")
    args = parser.parse_args()
    begin = time.perf_counter()
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)  # always a private stack on free ports, never someone's running one
    stack = EphemeralStack().start()
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    profiles = {10: 500 if args.quick else 1000, 100: 500}
    try:
        runs = {d: measure(stack, d, n) for d, n in profiles.items()}
        cfg = settings()
        retention = {"alerts": retention_hours(stack, cfg.topic_alerts),
                     "alerts-enriched": retention_hours(stack, cfg.topic_enriched)}
    finally:
        stack.stop()

    print(f"cost benchmark: batches of {BATCH} alerts through the real ingest service on the local stack")
    fields = list(vars(runs[10]["new"]))
    for d, run in runs.items():
        print(f"\n== {d} detections ({run['alerts']} alerts; ingest CPU {run['ingest_cpu_ms_per_alert']} ms/alert): "
              "per alert, old layout / new")
        for name in fields:
            print(f"  {name:26s} {getattr(run['old'], name):>12.3f} {getattr(run['new'], name):>12.3f}")
        print("  requests in the run: " + ", ".join(f"{k} {v}" for k, v in sorted(run["requests"].items())))

    old_retention = {"alerts": 72.0, "alerts-enriched": 72.0}  # infra/template.yaml at 923ad4f
    sky = sky_index_model()
    sky_unquantised = 2.0  # depth-29 keys with ra/decl projected (as issue 18 merged): every alert
    print(f"\n== by-sky index (modelled): {sky['new_objects_per_alert']:.3f} new objects an alert (stated: at most "
          f"{STATED['objects_stored'] / 1e6:g} M a month), {100 * sky['crossing_rate']:.2f}% of "
          f"{STATED['sky_move_arcsec']:g}\" moves cross a pixel (measured on the keys) -> "
          f"{sky['wru_per_alert']:.3f} write units an alert, "
          f"${ALERTS_PER_MONTH * sky['wru_per_alert'] * PRICES['dynamodb_wru_per_million'] / 1e6:,.0f} a month; "
          f"with unquantised keys and ra/decl projected, {sky_unquantised:g} units an alert, "
          f"${ALERTS_PER_MONTH * sky_unquantised * PRICES['dynamodb_wru_per_million'] / 1e6:,.0f}")
    months = {}
    for d, run in runs.items():
        months[d] = {
            "old": monthly(run["old"], alerts_retention_h=old_retention["alerts"],
                           enriched_retention_h=old_retention["alerts-enriched"], batched_archive=False),
            "new": monthly(run["new"], alerts_retention_h=retention["alerts"],
                           enriched_retention_h=retention["alerts-enriched"], batched_archive=True,
                           sky_wru_per_alert=sky["wru_per_alert"]),
            "new_with_72h_alerts": monthly(run["new"], alerts_retention_h=72.0,
                                           enriched_retention_h=retention["alerts-enriched"], batched_archive=True,
                                           sky_wru_per_alert=sky["wru_per_alert"]),
        }
    print(f"\n== per month at {ALERTS_PER_NIGHT:,} alerts a night, {NIGHTS} nights, us-east-1 list prices "
          f"(topic retention old {old_retention['alerts']:g} h, new {retention['alerts']:g} h on alerts)")
    print("| item | old (10 det.) | new (10 det.) | old (100 det.) | new (100 det.) |\n|---|---|---|---|---|")
    for line in months[10]["new"]:
        cells = [months[d][k][line] for d in runs for k in ("old", "new")]
        bold = "**" if line == "total" else ""
        print(f"| {bold}{line}{bold} | " + " | ".join(f"{bold}${c:,.0f}{bold}" for c in cells) + " |")
    for d in runs:
        ratio_readme = months[d]["new"]["total"] / OLD_TABLE["total"]
        ratio_model = months[d]["new"]["total"] / months[d]["old"]["total"]
        print(f"{d} detections: new ${months[d]['new']['total']:,.0f} = {ratio_readme:.2f} of README's "
              f"${OLD_TABLE['total']:,}, {ratio_model:.2f} of the old layout re-derived here "
              f"(${months[d]['old']['total']:,.0f}); with 72 h on alerts ${months[d]['new_with_72h_alerts']['total']:,.0f}")
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.platform(terse=True)}
    print(f"\ntotal {time.perf_counter() - begin:.1f} s")
    print(json.dumps({"benchmark": "cost", "baseline": "the layouts of main at 923ad4f, rebuilt from the same alerts",
                      "prices": PRICES, "stated": STATED, "retention_hours": retention,
                      "sky_index": {k: round(v, 4) for k, v in sky.items()},
                      "per_alert": {str(d): {"old": r["old"].as_dict(), "new": r["new"].as_dict(),
                                             "requests": r["requests"],
                                             "ingest_cpu_ms_per_alert": r["ingest_cpu_ms_per_alert"]}
                                    for d, r in runs.items()},
                      "monthly": {str(d): m for d, m in months.items()}, "readme_old_table": OLD_TABLE,
                      "machine": machine}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
