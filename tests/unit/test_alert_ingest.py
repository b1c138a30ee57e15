"""The ingest service with in-memory stores and producer: routing, counting, failures that must raise."""

from __future__ import annotations

import pytest
from fakes import MemoryArchive, MemoryObjects, RecordingProducer

from skystream.alerts.enriched import EnrichedRecord
from skystream.alerts.wire import encode_alert
from skystream.devtools.generator import generate_alerts
from skystream.domain.records import KafkaRecord
from skystream.services.ingest import IngestService
from skystream.streams.producer import ProduceError


def _service(producer: RecordingProducer | None = None, objects: MemoryObjects | None = None,
             ) -> tuple[IngestService, RecordingProducer, MemoryObjects, MemoryArchive]:
    producer, objects, archive = producer or RecordingProducer(), objects or MemoryObjects(), MemoryArchive()
    service = IngestService(producer, objects, archive, enriched_topic="alerts-enriched", dlq_topic="alerts-dlq")
    return service, producer, objects, archive


def _records(values: list[bytes]) -> list[KafkaRecord]:
    return [KafkaRecord("alerts", 0, i, v, key=b"k%d" % i) for i, v in enumerate(values)]


def test_good_bad_and_solar_system_alerts_each_go_their_way() -> None:
    alerts = generate_alerts(6, seed=1)
    solar = generate_alerts(2, seed=2, solar_system_fraction=1.0)
    values = [encode_alert(a) for a in alerts] + [encode_alert(a) for a in solar] + [b"\x09junk", b""]
    service, producer, objects, archive = _service()
    report = service.process(_records(values))
    assert (report.received, report.enriched, report.solar_system, report.dead_lettered) == (10, 6, 2, 2)
    assert report.stored == 6 and len(objects.stored) == 6 and len(archive.alerts) == 6
    assert len(archive.batches) == 1 and len(objects.writes) == 1  # one archive object, one objects write
    enriched = producer.topic("alerts-enriched")
    assert [EnrichedRecord.from_bytes(v).dia_object_id for _, v, _, _ in enriched] == [
        a["diaObject"]["diaObjectId"] for a in alerts
    ]
    assert all(key == str(EnrichedRecord.from_bytes(v).dia_object_id) for _, v, key, _ in enriched)
    dlq = producer.topic("alerts-dlq")
    assert [v for _, v, _, _ in dlq] == [b"\x09junk", b""]
    assert "wrong magic byte 0x09" in dlq[0][3]["error"] and dlq[0][3]["source"] == "alerts-0@8"
    assert "empty record" in dlq[1][3]["error"] and dlq[1][2] == b"k9"  # original key kept
    assert report.metrics()["AlertsDeadLettered"] == 2


def test_an_older_alert_is_forwarded_but_not_stored() -> None:
    old, new = generate_alerts(2, seed=3, alerts_per_object=2)
    service, _, objects, archive = _service()
    service.process(_records([encode_alert(new)]))
    report = service.process(_records([encode_alert(old)]))
    assert (report.stored, report.stale, report.enriched) == (0, 1, 1)
    object_id = new["diaObject"]["diaObjectId"]
    assert objects.stored[object_id].row["lastDiaSourceMjdTai"] == new["diaSource"]["midpointMjdTai"]
    latest = archive.latest(objects, object_id)
    assert latest is not None and latest[0]["diaSourcesList"][0]["diaSourceId"] == new["diaSourceId"]


def test_an_oversize_enriched_record_is_dead_lettered() -> None:
    service, producer, _, _ = _service(producer=RecordingProducer(limit=5_000))  # the slim record: ~10 KB
    big = generate_alerts(1, seed=4, detections=100)[0]
    report = service.process(_records([encode_alert(big)]))
    assert report.dead_lettered == 1 and report.enriched == 0
    assert "over the producer's size limit" in producer.topic("alerts-dlq")[0][3]["error"]


def test_a_produce_failure_raises_so_the_batch_is_retried() -> None:
    service, _, _, _ = _service(producer=RecordingProducer(fail_flush=True))
    with pytest.raises(ProduceError):
        service.process(_records([encode_alert(generate_alerts(1, seed=5)[0])]))


def test_a_storage_failure_raises_so_the_batch_is_retried() -> None:
    service, producer, _, _ = _service(objects=MemoryObjects(fail=ConnectionError("DynamoDB unreachable")))
    with pytest.raises(ConnectionError):
        service.process(_records([encode_alert(a) for a in generate_alerts(3, seed=6)]))
    assert producer.topic("alerts-enriched") == []  # nothing forwarded before the state was stored
