"""Output records in Lasair's shapes, delivery within the size limit and byte quota, and run_and_deliver."""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import pytest
from fakes import (
    MemoryArchive,
    MemoryDigests,
    MemoryFailureCounts,
    MemoryQuota,
    RecordingNotice,
    RecordingProducer,
    matcher,
)

from skystream.domain.filters import StoredFilter
from skystream.domain.objects import ObjectContext
from skystream.outputs.delivery import Outgoing, deliver
from skystream.outputs.formats import (
    alert_payload,
    build_record,
    encode_record,
    encode_with_alert,
    encoded_alert,
    utc_stamp,
)
from skystream.services.suspension import Suspensions

LITE = {
    "diaSourcesList": [{"psfFlux": 13677.0, "psfFluxErr": 1538.7, "midpointMjdTai": 61029.35, "band": "z",
                        "reliability": 0.48}],
    "diaForcedSourcesList": [{"psfFlux": float("nan"), "psfFluxErr": 12.0, "midpointMjdTai": 61020.1, "band": "r"}],
}
UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def stored(fid: str, output: str = "kafka_plain", conditions: str = "", selected: str = "objects.diaObjectId, "
           "objects.ra, objects.decl", **kw) -> StoredFilter:
    return StoredFilter(filter_id=fid, owner=7, name=fid, selected=selected, tables="objects",
                        conditions=conditions, output=output, on_alert=True,
                        topic=f"lasair_7{fid}" if output.startswith("kafka") else None,
                        created="t", modified="t", **kw)


def ctx(oid: int, ra: float, n: int = 3, padding: int = 0) -> ObjectContext:
    row = {"diaObjectId": oid, "ra": ra, "decl": -30.0, "nDiaSources": n, "lastDiaSourceMjdTai": 61000.0 + oid % 7}
    full = {"diaObject": {"diaObjectId": oid, "ra": ra, "padding": "x" * padding},
            "diaSourcesList": [{"diaSourceId": oid * 10, "psfFlux": 1.0}], "diaForcedSourcesList": []}
    return ObjectContext(row=row, lite=LITE, full_alert=full, schema_version="11.1")


def test_plain_record_is_the_selected_attributes_then_utc() -> None:
    record = build_record("kafka_plain", {"diaObjectId": 169760235333878021, "decl": -38.16, "ra": 221.87},
                          utc="2026-01-29 11:40:14")
    assert list(record) == ["diaObjectId", "decl", "ra", "UTC"]
    assert json.loads(encode_record(record)) == {"diaObjectId": 169760235333878021, "decl": -38.16, "ra": 221.87,
                                                 "UTC": "2026-01-29 11:40:14"}


def test_lite_record_carries_the_lightcurve_and_writes_nan_as_null() -> None:
    record = json.loads(encode_record(build_record("kafka_lite", {"diaObjectId": 1}, utc="x", lite=LITE)))
    assert list(record) == ["diaObjectId", "UTC", "alert"]
    assert list(record["alert"]) == ["diaSourcesList", "diaForcedSourcesList"]
    assert set(record["alert"]["diaSourcesList"][0]) == {"psfFlux", "psfFluxErr", "midpointMjdTai", "band",
                                                         "reliability"}
    assert "reliability" not in record["alert"]["diaForcedSourcesList"][0]
    assert record["alert"]["diaForcedSourcesList"][0]["psfFlux"] is None


def test_full_record_needs_the_alert_and_drops_cutouts() -> None:
    full = {"diaObject": {"diaObjectId": 1}, "diaSourcesList": [], "diaForcedSourcesList": [], "cutout": b"\x00"}
    record = build_record("kafka_full", {"diaObjectId": 1}, utc="x", full_alert=full)
    assert record["alert"] == {"diaObject": {"diaObjectId": 1}, "diaSourcesList": [], "diaForcedSourcesList": []}
    with pytest.raises(ValueError, match="full alert"):
        build_record("kafka_full", {"diaObjectId": 1}, utc="x")


def test_utc_stamp_format() -> None:
    assert utc_stamp(dt.datetime(2026, 1, 29, 11, 40, 14, 999, tzinfo=dt.UTC)) == "2026-01-29 11:40:14"
    assert UTC_RE.match(utc_stamp())


def test_delivery_drops_oversize_and_over_quota_records_one_by_one() -> None:
    f = stored("q", byte_quota=250)
    producer = RecordingProducer(limit=120)
    quota = MemoryQuota()
    day = dt.date(2026, 12, 1)
    records = [Outgoing(1, b"a" * 50, "11.1"), Outgoing(2, b"b" * 500, "11.1"), Outgoing(3, b"c" * 100, "11.1"),
               Outgoing(4, b"d" * 100, "11.1"), Outgoing(5, b"e" * 40, "")]
    counts = deliver(f, records, producer=producer, quota=quota, day=day)
    # 51 + 101 fit (152); 101 more would be 253 > 250: dropped; the small last one (41) still fits.
    assert (counts.produced, counts.dropped_oversize, counts.dropped_quota) == (3, 1, 1)
    assert [key for _, _, key, _ in producer.sent] == [b"1", b"3", b"5"]
    assert quota.used("q", day) == 51 + 101 + 41
    assert producer.sent[0][3] == {"filter_id": "q", "filter_version": "1", "schema_version": "11.1"}
    assert "schema_version" not in producer.sent[2][3]
    # the next batch of the same day starts from the stored count
    again = deliver(f, [Outgoing(6, b"f" * 60, "11.1")], producer=producer, quota=quota, day=day)
    assert again.dropped_quota == 1 and again.produced == 0


def test_run_and_deliver_formats_per_output_and_isolates_failures() -> None:
    objects = [ctx(101, 10.0), ctx(102, 200.0), ctx(103, 300.0, n=1)]
    plain = stored("plain", conditions="objects.ra > 100")
    lite = stored("lite", output="kafka_lite", conditions="objects.nDiaSources >= 3")
    full = stored("full", output="kafka_full", conditions="objects.diaObjectId = 102")
    mail = stored("mail", output="email", conditions="objects.ra < 100")
    muted = stored("muted", output="none")
    broken = stored("broken", conditions="objects.ra / 0 > 1 AND nosuchfunction(objects.ra) > 1")
    producer, digest = RecordingProducer(), MemoryDigests()
    now = dt.datetime(2026, 12, 1, 3, 4, 5, tzinfo=dt.UTC)
    counts = MemoryFailureCounts()
    health = Suspensions(counts, notify=RecordingNotice(), after=5)
    report = matcher(producer=producer, digest=digest, health=health).run_and_deliver(
        objects, [plain, lite, full, mail, muted, broken], trigger="alert", now=now)
    by_topic: dict[str, list[dict]] = {}
    for topic, value, key, headers in producer.sent:
        record = json.loads(value)
        assert key == str(record["diaObjectId"]).encode() and headers["filter_id"] == topic[len("lasair_7"):]
        by_topic.setdefault(topic, []).append(record)
    assert sorted(r["diaObjectId"] for r in by_topic["lasair_7plain"]) == [102, 103]
    assert all(list(r) == ["diaObjectId", "ra", "decl", "UTC"] and r["UTC"] == "2026-12-01 03:04:05"
               for r in by_topic["lasair_7plain"])
    assert sorted(r["diaObjectId"] for r in by_topic["lasair_7lite"]) == [101, 102]
    assert by_topic["lasair_7lite"][0]["alert"]["diaSourcesList"] == LITE["diaSourcesList"]
    assert [r["alert"]["diaObject"]["diaObjectId"] for r in by_topic["lasair_7full"]] == [102]
    assert digest.calls == [(now.date(), 7, "mail", "mail", [{"diaObjectId": 101, "ra": 10.0, "decl": -30.0}],
                             "2026-12-01 03:04:05")]
    assert report.per_filter["muted"].matched == 3 and "lasair_7muted" not in by_topic
    assert report.per_filter["broken"].error is not None and report.failed_filters == 1
    assert (report.matched, report.produced, report.emailed) == (2 + 2 + 1 + 1 + 3, 5, 1)
    assert producer.flushes == 1
    assert counts.counts == {"broken": 1}  # the failure counts towards suspension; the others wrote nothing


def test_an_oversize_full_record_is_dropped_and_counted_and_the_others_go() -> None:
    objects = [ctx(201, 1.0), ctx(202, 2.0, padding=5000), ctx(203, 3.0)]
    producer = RecordingProducer(limit=2000)
    report = matcher(producer=producer).run_and_deliver(objects, [stored("big", output="kafka_full")], trigger="alert")
    assert sorted(int(key) for _, _, key, _ in producer.sent) == [201, 203]
    assert (report.matched, report.produced, report.dropped_oversize) == (3, 2, 1)


def test_full_alerts_missing_from_the_batch_are_read_from_the_archive_once_per_object() -> None:
    objects = [ctx(401, 1.0), ctx(402, 2.0)]
    for c in objects:
        c.full_alert, c.alert_pointer = None, MemoryArchive.pointer(c.dia_object_id)
    archive, producer = MemoryArchive({401: ({"diaObject": {"diaObjectId": 401}}, "10.0")}), RecordingProducer()
    report = matcher(producer=producer, archive=archive).run_and_deliver(
        objects, [stored("f1", output="kafka_full"), stored("f2", output="kafka_full")], trigger="annotation")
    assert sorted(p.key for p in archive.reads) == [MemoryArchive.pointer(401).key, MemoryArchive.pointer(402).key]
    assert archive.calls == 1  # one read for the filter's rows together, none again for the second filter
    assert sorted((topic, int(key), headers["schema_version"]) for topic, _, key, headers in producer.sent) == [
        ("lasair_7f1", 401, "10.0"), ("lasair_7f2", 401, "10.0")]
    assert report.produced == 2 and "402" in (report.per_filter["f1"].error or "")


def test_a_stored_object_without_its_lite_lightcurve_gets_it_from_the_archived_alert() -> None:
    full = {"diaObject": {"diaObjectId": 501},
            "diaSourcesList": [{"diaSourceId": 5010, "psfFlux": 2.0, "psfFluxErr": 0.1, "midpointMjdTai": 61001.0,
                                "band": "g", "reliability": 0.9, "x": 1}],
            "diaForcedSourcesList": [{"psfFlux": 1.0, "psfFluxErr": 0.2, "midpointMjdTai": 61000.0, "band": "r"}]}
    archive, producer = MemoryArchive({501: (full, "11.1")}), RecordingProducer()
    stored_object = ObjectContext(row=ctx(501, 5.0).row, lite=None, alert_pointer=MemoryArchive.pointer(501))
    plain = ObjectContext(row=ctx(502, 6.0).row, lite=LITE, alert_pointer=MemoryArchive.pointer(502))
    report = matcher(producer=producer, archive=archive).run_and_deliver(
        [stored_object, plain], [stored("lite", output="kafka_lite")], trigger="save")
    by_id = {int(key): json.loads(value) for _, value, key, _ in producer.sent}
    assert by_id[501]["alert"] == {"diaSourcesList": [{k: v for k, v in full["diaSourcesList"][0].items()
                                                        if k not in ("diaSourceId", "x")}],
                                   "diaForcedSourcesList": full["diaForcedSourcesList"]}
    assert by_id[502]["alert"]["diaSourcesList"] == LITE["diaSourcesList"]  # at hand: not read
    assert report.produced == 2 and archive.reads == [MemoryArchive.pointer(501)]


def test_two_alerts_of_one_object_in_a_batch_give_one_record_from_the_newer() -> None:
    older, newer = ctx(301, 1.0), ctx(301, 2.0)
    newer.row["lastDiaSourceMjdTai"] = older.row["lastDiaSourceMjdTai"] + 1
    producer = RecordingProducer()
    matcher(producer=producer).run_and_deliver([newer, older], [stored("p")], trigger="alert")
    assert [json.loads(v)["ra"] for _, v, _, _ in producer.sent] == [2.0]


def test_nan_features_reach_consumers_as_null() -> None:
    weird = ctx(401, 1.0)
    weird.row["decl"] = math.nan
    producer = RecordingProducer()
    matcher(producer=producer).run_and_deliver([weird], [stored("p")], trigger="alert")
    assert json.loads(producer.sent[0][1])["decl"] is None


@pytest.mark.parametrize("row", [
    {"diaObjectId": 7, "gmag": math.nan, "name": "SN \u00e9t\u00e9"},
    {"diaObjectId": 7, "alert": "a column named alert", "UTC": "a column named UTC", "x": 1},
    {},
])
@pytest.mark.parametrize("kind", ["kafka_plain", "kafka_lite", "kafka_full"])
def test_a_record_with_its_alert_encoded_once_is_the_same_bytes(kind: str, row: dict) -> None:
    """KafkaRun encodes an object's alert once per run and splices it into each filter's record: byte for
    byte what encoding the whole record gives, a column named ``alert`` included (the alert takes its place)."""
    lite = {"diaSourcesList": [{"psfFlux": math.inf, "band": "g"}], "diaForcedSourcesList": []}
    full = {"diaObject": {"ra": 1.5, "cutout": b"x"}, "diaSourcesList": [{"psfFlux": math.nan}],
            "diaForcedSourcesList": []}
    whole = encode_record(build_record(kind, row, utc="2026-01-01 00:00:00", lite=lite, full_alert=full))
    alert_json = encoded_alert(alert_payload(kind, lite=lite, full_alert=full))
    assert encode_with_alert(row, utc="2026-01-01 00:00:00", alert_json=alert_json) == whole
    assert (kind == "kafka_plain") == (alert_json is None)
