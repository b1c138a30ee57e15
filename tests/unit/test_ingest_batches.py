"""Ingest writes per batch, not per alert, on DynamoDB and S3 (moto in process), and stays replay-safe.

Requests are counted at the boto3 clients (``skystream.local.metering``): a batch of 500 alerts
is one S3 PUT, five BatchGetItem and twenty BatchWriteItem calls (and one UpdateItem for the
night it adds); the code before batching made 500 conditional PutItem and 500 PutObject calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fakes import RecordingProducer, records
from moto_tables import template_tables

from skystream import aws
from skystream.alerts.enriched import EnrichedRecord
from skystream.alerts.lightcurve import full_alert
from skystream.alerts.wire import encode_alert
from skystream.config import settings
from skystream.devtools.generator import generate_alerts
from skystream.local.metering import RequestMeter
from skystream.services.ingest import IngestService
from skystream.storage.archive import AlertArchive
from skystream.storage.objects import ObjectStore

ALERTS = generate_alerts(500, seed=61, detections=5)


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ObjectStore, AlertArchive]]:
    with template_tables(monkeypatch):
        aws.client("s3").create_bucket(Bucket=settings().alerts_bucket)
        yield ObjectStore(), AlertArchive()


def _service(stores: tuple[ObjectStore, AlertArchive]) -> tuple[IngestService, RecordingProducer]:
    producer = RecordingProducer()
    objects, archive = stores
    return IngestService(producer, objects, archive, enriched_topic="alerts-enriched", dlq_topic="alerts-dlq"), producer


def _meter() -> RequestMeter:
    return RequestMeter([aws.client("dynamodb"), aws.client("s3")])


def _json(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))  # the archive writes JSON: NaN as null


def test_a_batch_of_500_alerts_costs_one_put_and_a_request_per_25_objects(stores) -> None:
    service, producer = _service(stores)
    with _meter() as meter:
        report = service.process(records([encode_alert(a) for a in ALERTS]))
    assert (report.enriched, report.stored, report.dead_lettered) == (500, 500, 0), report.reasons
    usage = meter.usage
    assert usage.count("s3") == 1 and usage.requests["s3.PutObject"] == 1
    assert usage.requests["dynamodb.BatchGetItem"] == 5  # 100 keys a call
    assert usage.requests["dynamodb.BatchWriteItem"] == 20  # 25 items a call
    assert usage.requests["dynamodb.PutItem"] == 0
    nights = len({int(a["diaSource"]["midpointMjdTai"] + 0.5) for a in ALERTS})
    assert usage.requests["dynamodb.UpdateItem"] == nights  # the set of nights, once per night per store
    writes = usage.count("dynamodb", ["BatchWriteItem", "PutItem", "UpdateItem"])
    assert usage.requests["s3.PutObject"] / 500 <= 0.02 and writes / 500 <= 0.1
    objects_table = settings().objects_table
    units = usage.write_units - usage.requests["dynamodb.UpdateItem"]  # the nights item: 1 unit per update
    assert usage.items_written[objects_table] - nights == 500 and units / 500 <= 2  # compact items: <= 2 KB each
    assert len(producer.topic("alerts-enriched")) == 500


def test_each_record_points_at_its_own_alert_and_a_batch_reads_back_in_one_get(stores) -> None:
    service, producer = _service(stores)
    service.process(records([encode_alert(a) for a in ALERTS[:60]]))
    enriched = [EnrichedRecord.from_bytes(v) for _, v, _, _ in producer.topic("alerts-enriched")]
    pointers = [e.alert_pointer for e in enriched]
    assert len({p.key for p in pointers}) == 1 and all(p.length > 0 for p in pointers)
    objects, archive = stores
    assert [objects.get(e.dia_object_id).alert_pointer for e in enriched] == pointers
    with _meter() as meter:
        one = archive.get(pointers[7])
    assert one == (_json(full_alert(ALERTS[7])), "11.1")
    assert meter.usage.requests["s3.GetObject"] == 1 and meter.usage.s3_get_bytes == pointers[7].length  # ranged
    with _meter() as meter:
        many = archive.get_many(pointers[10:50])
    assert meter.usage.requests["s3.GetObject"] == 1  # adjacent members: one coalesced range
    assert [many[p][0]["diaObject"]["diaObjectId"] for p in pointers[10:50]] == [
        a["diaObject"]["diaObjectId"] for a in ALERTS[10:50]]


def test_a_replayed_older_alert_does_not_move_an_object_back(stores) -> None:
    old, new = generate_alerts(2, seed=62, detections=5, alerts_per_object=2)
    object_id = new["diaObject"]["diaObjectId"]
    objects, archive = stores
    service, _ = _service(stores)
    assert service.process(records([encode_alert(new)])).stored == 1
    kept = objects.get(object_id)
    late = service.process(records([encode_alert(old)]))  # the replay: older, in a later batch
    assert (late.stored, late.stale, late.enriched) == (0, 1, 1)
    after = objects.get(object_id)
    assert after.row["lastDiaSourceMjdTai"] == new["diaSource"]["midpointMjdTai"]
    assert after.alert_pointer == kept.alert_pointer
    archived = archive.get(after.alert_pointer)
    assert archived is not None and archived[0]["diaSourcesList"][0]["diaSourceId"] == new["diaSourceId"]
    both = service.process(records([encode_alert(new), encode_alert(old)]))  # one batch, newest first
    assert (both.stored, both.stale) == (1, 1)
    assert objects.get(object_id).row["lastDiaSourceMjdTai"] == new["diaSource"]["midpointMjdTai"]


def test_a_retried_batch_writes_nothing_a_reader_could_see_twice(stores) -> None:
    objects, archive = stores
    service, _ = _service(stores)
    batch = records([encode_alert(a) for a in ALERTS[:40]])
    s3, dynamodb = aws.client("s3"), aws.client("dynamodb")

    def state() -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
        listed = s3.list_objects_v2(Bucket=archive.bucket).get("Contents", [])
        items = dynamodb.scan(TableName=objects.table_name)["Items"]
        return (sorted((o["Key"], o["ETag"]) for o in listed),
                sorted(({k: v for k, v in i.items() if k != "updated"} for i in items),
                       key=lambda i: int(i["diaObjectId"]["N"])))

    first = service.process(batch)
    before = state()
    again = service.process(batch)  # the event source retries the batch after, say, a produce failure
    assert (first.stored, again.stored, again.stale) == (40, 40, 0)  # the same alerts: the same state, rewritten
    assert state() == before  # one archive object (same key, same bytes), one item per object, the same items
    assert len(before[0]) == 1 and len(before[1]) == 40 + 1  # 40 objects and the nights item
