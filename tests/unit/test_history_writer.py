"""The history writer's service: a batch of enriched records -> one Parquet file per (table, night),
named after the batch (a redelivered batch overwrites), bad records to the dead-letter topic."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from fakes import MemoryArchive, MemoryHistory, RecordingProducer

from skystream.devtools.factory import make_alert
from skystream.devtools.generator import generate_alerts
from skystream.domain.objects import AlertToArchive, night_of
from skystream.domain.records import KafkaRecord
from skystream.services.history_writer import HistoryWriterService, batch_name
from skystream.services.ingest import enrich
from skystream.streams.dead_letter import DeadLetters


def _enriched(alerts: list[dict], archive: MemoryArchive) -> list[bytes]:
    """The records ingest would produce: the full alerts archived in one batch, pointers in the records."""
    pointers = archive.put_batch([AlertToArchive("11.1", full=a) for a in alerts])
    return [enrich(a, "11.1").model_copy(update={"alert": None, "alert_pointer": p}).to_bytes()
            for a, p in zip(alerts, pointers, strict=True)]


def _records(values: list[bytes], partition: int = 0, first: int = 0) -> list[KafkaRecord]:
    return [KafkaRecord("alerts-enriched", partition, first + i, v) for i, v in enumerate(values)]


@pytest.fixture
def parts(tmp_path: Path) -> tuple[HistoryWriterService, MemoryHistory, MemoryArchive, RecordingProducer]:
    history, archive, producer = MemoryHistory(tmp_path), MemoryArchive(), RecordingProducer()
    return HistoryWriterService(history, archive, DeadLetters(producer, "alerts-dlq")), history, archive, producer


def test_a_batch_writes_every_alert_once_per_table_and_night_in_one_archive_read(parts) -> None:
    service, history, archive, _ = parts
    alerts = generate_alerts(60, seed=5)
    report = service.process(_records(_enriched(alerts, archive), first=100))
    assert archive.calls == 1  # the full alerts of the batch: one batched read
    assert (report.records, report.objects_history, report.detections, report.dead_lettered) == (60, 60, 60, 0)
    nights = {night_of(a["diaSource"]["midpointMjdTai"]) for a in alerts}
    assert {(t, n) for t, n, _, _ in history.appends} == {(t, n) for t in ("objects_history", "detections")
                                                          for n in nights} | {("forced_photometry", n) for n in nights
                                                                              if any(t == "forced_photometry" and m == n
                                                                                     for t, m, _, _ in history.appends)}
    assert {name for *_, name in history.appends} == {"alerts-enriched-0-100-159"}
    stored = history.rows("objects_history")
    assert sorted(r["diaSourceId"] for r in stored) == sorted(a["diaSource"]["diaSourceId"] for a in alerts)
    assert sorted(r["diaSourceId"] for r in history.rows("detections")) == sorted(r["diaSourceId"] for r in stored)
    assert len(history.rows("forced_photometry")) == report.forced_photometry > 0


def test_a_redelivered_batch_overwrites_its_files_instead_of_adding_rows(parts) -> None:
    service, history, archive, _ = parts
    batch = _records(_enriched(generate_alerts(20, seed=6), archive))
    service.process(batch)
    files = [f.key for f in history.files("objects_history")]
    service.process(batch)  # the trigger retried it
    assert [f.key for f in history.files("objects_history")] == files
    assert len(history.rows("objects_history")) == 20


def test_the_file_name_is_the_batch_topic_partitions_and_offsets() -> None:
    records = _records([b"x"] * 3, partition=2, first=40) + _records([b"y"] * 2, partition=0, first=7)
    assert batch_name(records) == "alerts-enriched-0-7-8_alerts-enriched-2-40-42"
    assert batch_name(list(reversed(records))) == batch_name(records)
    many = [KafkaRecord("alerts-enriched", p, 10**12 + p, b"") for p in range(40)]
    assert len(batch_name(many)) <= 200 and batch_name(many) == batch_name(many[::-1])


def test_bad_records_go_to_the_dead_letter_topic_and_the_rest_is_written(parts) -> None:
    service, _, archive, producer = parts
    good = _enriched(generate_alerts(5, seed=7), archive)
    missing = orjson.loads(good[0])
    missing["alert_at"]["key"] = "alerts/batches/gone.jsonl.gz"
    no_time = make_alert([(60100.0, "g", 1.0)], object_id=99)
    record = enrich(no_time, "11.1")
    no_time["diaSource"]["midpointMjdTai"] = None  # archived without a time (ingest would have refused it)
    (pointer,) = archive.put_batch([AlertToArchive("11.1", full=no_time)])
    untimed = record.model_copy(update={"alert": None, "alert_pointer": pointer}).to_bytes()
    values = [*good, b"not json", orjson.dumps(missing), untimed]
    report = service.process(_records(values))
    assert report.objects_history == 5 and report.dead_lettered == 3
    dead = producer.topic("alerts-dlq")
    assert [h["stage"] for *_, h in dead] == ["history"] * 3
    assert [h["source"] for *_, h in dead] == ["alerts-enriched-0@5", "alerts-enriched-0@6", "alerts-enriched-0@7"]
    assert "not valid JSON" in dead[0][3]["error"]
    assert "not in the archive" in dead[1][3]["error"]
    assert "midpointMjdTai" in dead[2][3]["error"]
    assert dead[1][1] == orjson.dumps(missing)  # the original value, byte for byte


def test_an_unreachable_store_fails_the_batch_for_a_retry(parts) -> None:
    service, history, archive, producer = parts
    history.fail_appends = True
    with pytest.raises(OSError):
        service.process(_records(_enriched(generate_alerts(3, seed=8), archive)))
    assert producer.topic("alerts-dlq") == []  # nothing is the records' fault


def test_records_of_the_earlier_shape_carry_their_alert_and_need_no_archive_read(parts) -> None:
    service, _, archive, _ = parts
    alerts = generate_alerts(4, seed=9)
    values = [enrich(a, "11.1").to_bytes() for a in alerts]  # the whole alert inline
    report = service.process(_records(values))
    assert report.objects_history == 4 and archive.calls == 0
