"""The matcher defends itself: an enriched record it cannot use goes to the DLQ, the rest of the batch runs.

An older ingest let a JSON alert with ``diaObjectId = 2**63`` through; every matcher batch
holding its enriched record then failed in SQLite ("Python int too large to convert to
SQLite INTEGER") and was retried without end.
"""

from __future__ import annotations

import base64
import json
import zlib

import orjson
import pytest
from fakes import RecordingProducer, matcher, records
from moto_tables import template_tables

from skystream.devtools.generator import generate_alerts
from skystream.domain.filters import StoredFilter
from skystream.domain.objects import AlertPointer
from skystream.domain.records import KafkaRecord
from skystream.outputs.topics import topic_name
from skystream.services.ingest import enrich
from skystream.services.matching import EnrichedMatcher, EnrichedMatchReport, contexts_from_enriched
from skystream.storage.filters import FilterStore
from skystream.streams.dead_letter import DeadLetters

ALERTS = generate_alerts(3, seed=31)
POINTER = AlertPointer("alerts/batches/0.jsonl.gz", 0, 10)
GOOD = [enrich(a, "11.1").model_copy(update={"alert": None, "alert_pointer": POINTER}).to_bytes() for a in ALERTS]
FIRST_ID = ALERTS[0]["diaObject"]["diaObjectId"]


def _with_object_value(column: str, raw: str) -> bytes:
    """The first good record with one objects column's JSON text replaced (orjson cannot write 2**64)."""
    body = orjson.loads(GOOD[0])
    body["objects"][column] = "@@"
    return orjson.dumps(body).replace(b'"@@"', raw.encode())


def _with_field(name: str, value: object) -> bytes:
    """The first good record with one top-level field replaced (None: removed)."""
    body = orjson.loads(GOOD[0])
    body.pop(name, None)
    if value is not None:
        body[name] = value
    return orjson.dumps(body)


POISON: dict[str, tuple[bytes, str]] = {
    "diaObjectId 2**63": (_with_object_value("diaObjectId", str(2**63)),
                          "objects.diaObjectId = 9223372036854775808 is not a positive signed 64-bit integer"),
    "diaObjectId 2**64 (a float once parsed)": (_with_object_value("diaObjectId", str(2**64)),
                                                "objects.diaObjectId must be an integer"),
    "diaObjectId missing": (_with_object_value("diaObjectId", "null"), "objects.diaObjectId must be an integer"),
    "nDiaSources 2**63": (_with_object_value("nDiaSources", str(2**63)),
                          "objects.nDiaSources = 9223372036854775808 is not a signed 64-bit integer"),
    "a list in a numeric column": (_with_object_value("ra", "[1, 2]"), "objects.ra must be a number, not list"),
    "a number in a text column": (_with_object_value("latestPairColourBands", "7"),
                                  "objects.latestPairColourBands must be text, not int"),
    "not JSON": (b"\x00\x00\x00\x04M", "not valid JSON"),
    "JSON nested 2,000 deep": (b"[" * 2000 + b"]" * 2000, "not valid JSON"),
    "not an object": (b"[1, 2]", "an enriched record is a JSON object, not list"),
    "lite not an object": (json.dumps({"objects": {"diaObjectId": 5}, "lite": [], "alert": {},
                                       "schema_version": "11.1"}).encode(), "lite is missing or not a JSON object"),
    "lite list not a list": (json.dumps({"objects": {"diaObjectId": 5}, "lite": {"diaSourcesList": 3},
                                         "alert": {}, "schema_version": "11.1"}).encode(),
                             "lite.diaSourcesList is not a list"),
    "lite_z not base64": (_with_field("lite_z", "not base64!"), "lite_z is not base64 zlib'd JSON"),
    "lite_z a zlib bomb": (_with_field("lite_z", base64.b64encode(zlib.compress(b" " * 20_000_000)).decode()),
                           "lite_z inflates past"),
    "lite_z a list": (_with_field("lite_z", base64.b64encode(zlib.compress(b"[]")).decode()),
                      "lite_z does not hold a JSON object"),
    "no pointer and no alert": (_with_field("alert_at", None), "neither alert_at"),
    "pointer offset negative": (_with_field("alert_at", {"key": "k", "offset": -1, "length": 3}),
                                "alert_at.offset is not a non-negative integer"),
    "pointer key missing": (_with_field("alert_at", {"offset": 0, "length": 3}), "alert_at.key is missing"),
}


def test_each_unusable_record_is_refused_with_its_reason_and_the_good_ones_kept() -> None:
    values = [GOOD[0], *(value for value, _ in POISON.values()), GOOD[1]]
    contexts, refused = contexts_from_enriched(records(values, "alerts-enriched"))
    assert [c.dia_object_id for c in contexts] == [FIRST_ID, ALERTS[1]["diaObject"]["diaObjectId"]]
    assert [r.offset for r, _ in refused] == list(range(1, 1 + len(POISON)))
    for (record, reason), (name, (value, words)) in zip(refused, POISON.items(), strict=True):
        assert record.value == value
        assert words in reason, (name, reason)


def _filter() -> StoredFilter:
    return StoredFilter(filter_id="f1", owner=7, name="everything", selected="objects.diaObjectId, objects.nDiaSources",
                        tables="objects", conditions="objects.diaObjectId > 0", on_alert=True, output="kafka_plain",
                        topic=topic_name(7, "everything"), created="t", modified="t")


def match_enriched(batch: list[KafkaRecord], *, producer: RecordingProducer,
                   dead_letters: DeadLetters) -> EnrichedMatchReport:
    """The matcher's work with the filters of the (moto) filters table, records to ``producer``."""
    service = EnrichedMatcher(filters=FilterStore(), matcher=matcher(producer=producer), dead_letters=dead_letters)
    return service.match_enriched(batch)


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch):
    with template_tables(monkeypatch):
        yield


@pytest.mark.usefixtures("tables")
@pytest.mark.parametrize("name", ["diaObjectId 2**63", "nDiaSources 2**63", "a list in a numeric column",
                                  "not JSON"])
def test_a_poison_record_goes_to_the_dlq_and_the_rest_of_the_batch_is_matched(name: str) -> None:
    FilterStore().put(_filter())
    poison, reason = POISON[name]
    outputs, dlq = RecordingProducer(limit=1_000_000), RecordingProducer()
    report = match_enriched(records([GOOD[1], poison, GOOD[2]], "alerts-enriched"), producer=outputs,
                            dead_letters=DeadLetters(dlq, "alerts-dlq"))
    matched = [json.loads(value)["diaObjectId"] for _, value, _, _ in outputs.topic("lasair_7everything")]
    assert matched == [a["diaObject"]["diaObjectId"] for a in ALERTS[1:]]
    (dead,) = dlq.sent
    topic, value, key, headers = dead
    assert (topic, value, key) == ("alerts-dlq", poison, b"k1")
    assert headers["stage"] == "match" and headers["source"] == "alerts-enriched-0@1"
    assert reason in headers["error"]
    assert dlq.flushes == 1  # on the broker before the batch counts as done
    assert (report.dead_lettered, report.objects, report.produced, report.failed_filters) == (1, 2, 2, 0)


@pytest.mark.usefixtures("tables")
def test_a_batch_of_only_poison_runs_no_filter_and_still_dead_letters() -> None:
    FilterStore().put(_filter())
    outputs, dlq = RecordingProducer(), RecordingProducer()
    report = match_enriched(records([POISON["diaObjectId 2**63"][0]], "alerts-enriched"), producer=outputs,
                            dead_letters=DeadLetters(dlq, "alerts-dlq"))
    assert outputs.sent == [] and len(dlq.sent) == 1 and report.dead_lettered == 1 and report.objects == 0


@pytest.mark.usefixtures("tables")
def test_a_dlq_the_broker_refuses_fails_the_batch_for_a_retry() -> None:
    from skystream.streams.producer import ProduceError

    FilterStore().put(_filter())
    outputs = RecordingProducer()
    with pytest.raises(ProduceError):
        match_enriched(records([POISON["not JSON"][0], GOOD[0]], "alerts-enriched"), producer=outputs,
                       dead_letters=DeadLetters(RecordingProducer(fail_flush=True), "alerts-dlq"))
    assert outputs.sent == []  # nothing delivered before the dead letters were safe
