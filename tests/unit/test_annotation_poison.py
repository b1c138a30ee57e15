"""The annotation trigger: an event it cannot use goes to the DLQ with its reason, the rest are processed.

One event with ``diaObjectId = 10**40`` on topic ``annotations`` used to fail every batch
holding it (``decimal.Rounded`` reading the objects table), and the trigger stopped for good.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import MemoryFilters, MemoryObjects, RecordingProducer, RecordingRunner, records
from moto_tables import template_tables

from skystream.alerts.lightcurve import lite_lightcurve
from skystream.devtools.generator import generate_alerts
from skystream.domain.filters import StoredFilter
from skystream.features import objects_row
from skystream.ports import ObjectReader
from skystream.services.annotation_trigger import AnnotationTrigger, TriggerReport
from skystream.storage.objects import ObjectStore
from skystream.streams.dead_letter import DeadLetters
from skystream.streams.producer import ProduceError


def _filter(filter_id: str, annotator: str) -> StoredFilter:
    return StoredFilter(filter_id=filter_id, owner=1, name=filter_id, selected="objects.diaObjectId",
                        tables=f"objects, annotator:{annotator}", on_annotation=True, output="kafka_plain",
                        created="2026-01-01 00:00:00", modified="2026-01-01 00:00:00")


def on_annotations(values: list[bytes], objects: ObjectReader, runner: RecordingRunner,
                   dead_letters: RecordingProducer) -> TriggerReport:
    trigger = AnnotationTrigger(filters=MemoryFilters([_filter("f", "a")]), objects=objects, matcher=runner,
                                dead_letters=DeadLetters(dead_letters, "alerts-dlq"))
    return trigger.on_annotations(records(values, "annotations"))


def ran(runner: RecordingRunner) -> list[list[int]]:
    """The object ids of each run."""
    return [ids for ids, _, _ in runner.calls]


def _event(object_id: Any, annotator: str = "a") -> bytes:
    body = f'{{"diaObjectId": {object_id}, "annotator": "{annotator}", "classification": "SN", "uploaded_us": 1}}'
    return body.encode()


POISON: dict[str, tuple[bytes, str]] = {
    "diaObjectId 10**40": (_event(10**40), "diaObjectId: Input should be less than or equal to 9223372036854775807"),
    "diaObjectId 2**63": (_event(2**63), "diaObjectId: Input should be less than or equal to 9223372036854775807"),
    "diaObjectId 0": (_event(0), "diaObjectId: Input should be greater than 0"),
    "diaObjectId of 5,001 digits": (_event("7" * 5001), "number out of range"),
    "JSON nested 100,000 deep": (b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "recursion limit exceeded"),
    "not JSON": (b"\xff\xfe garbage", "Invalid JSON"),
    "no annotator": (json.dumps({"diaObjectId": 5, "classification": "SN", "uploaded_us": 1}).encode(),
                     "annotator: Field required"),
}


@pytest.mark.parametrize("name", list(POISON))
def test_a_poison_event_goes_to_the_dlq_with_its_reason_and_the_next_event_runs(name: str) -> None:
    value, reason = POISON[name]
    run, dlq = RecordingRunner(), RecordingProducer()
    report = on_annotations([value, _event(5)], MemoryObjects.of([{"diaObjectId": 5}]), run, dlq)
    assert ran(run) == [[5]]
    ((topic, dead_value, key, headers),) = dlq.sent
    assert (topic, dead_value, key) == ("alerts-dlq", value, b"k0")
    assert headers["stage"] == "annotation" and headers["source"] == "annotations-0@0"
    assert headers["error"].startswith("not an annotation event: ") and reason in headers["error"], headers
    assert (report.events, report.bad_events, report.dead_lettered, report.filters_run) == (1, 1, 1, 1)
    assert dlq.flushes == 1


def test_an_event_whose_stored_object_cannot_be_filtered_is_dead_lettered_and_the_others_run() -> None:
    # a row an older ingest stored with a value no SQLite batch can bind
    objects = MemoryObjects.of([{"diaObjectId": 5}, {"diaObjectId": 6, "nDiaSources": 2**63}, {"diaObjectId": 7}])
    run, dlq = RecordingRunner(), RecordingProducer()
    report = on_annotations([_event(5), _event(6), _event(7)], objects, run, dlq)
    assert ran(run) == [[5, 7]]
    ((_, value, _, headers),) = dlq.sent
    assert value == _event(6) and headers["source"] == "annotations-0@1"
    assert headers["error"] == ("stored object 6 cannot be filtered: objects.nDiaSources = 9223372036854775808 "
                                "is not a signed 64-bit integer (at most 9223372036854775807)")
    assert (report.objects, report.unknown_objects, report.dead_lettered) == (2, 0, 1)


def test_a_dlq_the_broker_refuses_fails_the_batch_before_any_filter_runs() -> None:
    run = RecordingRunner()
    with pytest.raises(ProduceError):
        on_annotations([POISON["not JSON"][0], _event(5)], MemoryObjects.of([{"diaObjectId": 5}]), run,
                       RecordingProducer(fail_flush=True))
    assert run.calls == []


def test_with_the_real_objects_table_an_id_of_10_to_the_40_no_longer_stops_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alert = generate_alerts(1, seed=41)[0]
    object_id = alert["diaObject"]["diaObjectId"]
    with template_tables(monkeypatch):
        ObjectStore().upsert_if_newer(objects_row(alert), lite_lightcurve(alert), schema_version="11.1",
                                      dia_source_id=alert["diaSourceId"])
        run, dlq = RecordingRunner(), RecordingProducer()
        report = on_annotations([_event(10**40), _event(object_id)], ObjectStore(), run, dlq)
    assert ran(run) == [[object_id]] and report.dead_lettered == 1
    assert "less than or equal to 9223372036854775807" in dlq.sent[0][3]["error"]
