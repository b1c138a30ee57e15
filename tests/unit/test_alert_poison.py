"""Poison records at ingest: each goes to the DLQ with its reason and the batch goes on; outages still raise.

Every case is a record that once made the ingest handler raise (so its batch was retried
without end), or that was lost whole to the DLQ although it is a valid alert.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
from collections.abc import Callable
from typing import Any

import fastavro
import orjson
import pytest
from botocore.exceptions import EndpointConnectionError
from fakes import MemoryArchive, MemoryObjects, RecordingProducer, records
from moto_tables import template_tables

from skystream import aws
from skystream.alerts.enriched import EnrichedRecord
from skystream.alerts.lightcurve import lite_lightcurve
from skystream.alerts.schema_files import RegistryUnavailable
from skystream.alerts.wire import BadAlert, decode_alert, encode_alert
from skystream.config import settings
from skystream.devtools.generator import generate_alerts
from skystream.domain.bounds import MAX_JSON_DEPTH
from skystream.features import objects_row
from skystream.services import ingest
from skystream.services.ingest import IngestService
from skystream.storage.archive import AlertArchive
from skystream.storage.dynamo_values import UnstorableValue
from skystream.storage.objects import ObjectStore, object_item
from skystream.streams.dead_letter import DeadLetters, is_infrastructure

GOOD = generate_alerts(1, seed=11, detections=30)[0]


def _service(objects: Any = None, archive: Any = None) -> tuple[IngestService, RecordingProducer, Any]:
    producer, objects = RecordingProducer(), objects or MemoryObjects()
    service = IngestService(producer, objects, archive or MemoryArchive(), enriched_topic="alerts-enriched",
                            dlq_topic="alerts-dlq")
    return service, producer, objects


def _alert(change: Callable[[dict], Any]) -> dict:
    alert = copy.deepcopy(GOOD)
    change(alert)
    return alert


def _json(alert: dict) -> bytes:
    return json.dumps(alert, default=lambda b: None).encode()


def _container(schema: str, value: Any) -> bytes:
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), [value])
    return out.getvalue()


POISON: dict[str, tuple[bytes, str, str]] = {
    # name: (value, stage, words its reason must contain)
    "prv midpointMjdTai 1e300 (wire format)": (
        encode_alert(_alert(lambda a: a["prvDiaSources"][0].__setitem__("midpointMjdTai", 1e300))),
        "decode", "prvDiaSources[0].midpointMjdTai = 1e+300 is outside the accepted MJD range 30000..100000"),
    "trigger time before the range": (
        encode_alert(_alert(lambda a: a["diaSource"].__setitem__("midpointMjdTai", 12.5))),
        "decode", "diaSource.midpointMjdTai = 12.5 is outside the accepted MJD range"),
    "forced point time after the range": (
        encode_alert(_alert(lambda a: a["prvDiaForcedSources"][0].__setitem__("midpointMjdTai", 1e6))),
        "decode", "prvDiaForcedSources[0].midpointMjdTai = 1000000.0 is outside the accepted MJD range"),
    "JSON nested 100,000 deep": (
        b'{"diaObject": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "decode", f"JSON nested more than {MAX_JSON_DEPTH} levels deep"),
    "JSON nested 40 deep (under Python's limit)": (
        b'{"diaObject": null, "x": ' + b"[" * 40 + b"]" * 40 + b"}",
        "decode", f"JSON nested more than {MAX_JSON_DEPTH} levels deep"),
    "JSON integer of 5,001 digits": (
        b'{"diaObject": null, "diaSource": {"midpointMjdTai": ' + b"7" * 5001 + b"}}",
        "decode", "a JSON integer of 5001 digits: at most 20 are accepted"),
    "Avro container holding a string": (
        _container("string", "not an alert"), "decode", "first record is a string, not an alert record"),
    "Avro container holding an int": (
        _container("int", 5), "decode", "first record is a long, not an alert record"),
    "diaObjectId 2**63 (JSON)": (
        _json(_alert(lambda a: a["diaObject"].__setitem__("diaObjectId", 2**63))),
        "decode", "diaObject.diaObjectId = 9223372036854775808 is not a positive signed 64-bit integer"),
    "diaObjectId -1 (the meta item's id)": (
        _json(_alert(lambda a: a["diaObject"].__setitem__("diaObjectId", -1))),
        "decode", "diaObject.diaObjectId = -1 is not a positive signed 64-bit integer"),
    "diaSourceId 10**40 (JSON)": (
        _json(_alert(lambda a: a.__setitem__("diaSourceId", 10**19 * 7))),
        "decode", "diaSourceId = 70000000000000000000 is not a signed 64-bit integer"),
    "a history diaSourceId beyond 64 bits (JSON)": (
        _json(_alert(lambda a: a["prvDiaSources"][1].__setitem__("diaSourceId", -(2**63) - 1))),
        "decode", "prvDiaSources[1].diaSourceId = -9223372036854775809 is not a signed 64-bit integer"),
    "diaObject validityStartMjdTai 1e300 (JSON)": (
        _json(_alert(lambda a: a["diaObject"].__setitem__("validityStartMjdTai", 1e300))),
        "decode", "diaObject.validityStartMjdTai = 1e+300 is outside the accepted MJD range"),
    "a history point without a time": (
        _json(_alert(lambda a: a["prvDiaSources"][2].__setitem__("midpointMjdTai", None))),
        "decode", "prvDiaSources[2].midpointMjdTai is missing or not a number"),
    "nDiaSources beyond 64 bits (JSON)": (
        _json(_alert(lambda a: a["diaObject"].__setitem__("nDiaSources", 2**64))),
        "features", "objects.nDiaSources = 18446744073709551616 is not a signed 64-bit integer"),
}


@pytest.mark.parametrize("name", list(POISON))
def test_a_poison_record_goes_to_the_dlq_with_its_reason_and_the_next_alert_is_processed(name: str) -> None:
    value, stage, reason = POISON[name]
    after = generate_alerts(1, seed=12)[0]
    service, producer, objects = _service()
    report = service.process(records([value, encode_alert(after)]))
    (dead,) = producer.topic("alerts-dlq")
    _, dead_value, dead_key, headers = dead
    assert dead_value == value and dead_key == b"k0"  # kept byte for byte, with its key
    assert headers["stage"] == stage and headers["source"] == "alerts-0@0"
    assert reason in headers["error"], headers["error"]
    assert (report.dead_lettered, report.enriched, report.stored) == (1, 1, 1)
    (enriched,) = producer.topic("alerts-enriched")
    assert enriched[2] == str(after["diaObject"]["diaObjectId"])
    assert list(objects.stored) == [after["diaObject"]["diaObjectId"]]


def test_decode_refuses_every_bound_with_a_bad_alert_not_another_exception() -> None:
    for name, (value, stage, reason) in POISON.items():
        if stage != "decode":
            continue
        with pytest.raises(BadAlert) as caught:
            decode_alert(value)
        assert reason in caught.value.reason, name


def test_non_finite_history_times_are_unknown_not_refused() -> None:
    alert = _alert(lambda a: a["prvDiaSources"][0].__setitem__("midpointMjdTai", math.inf))
    decoded = decode_alert(encode_alert(alert))
    assert decoded.alert["prvDiaSources"][0]["midpointMjdTai"] == math.inf  # kept; features leave it out


def test_an_alert_with_infinite_fluxes_is_kept_with_those_fluxes_null() -> None:
    def infinite(alert: dict) -> None:
        alert["diaSource"]["psfFlux"] = math.inf
        for point in alert["prvDiaSources"][:3]:
            point["psfFlux"] = -math.inf  # in the jump baseline: statistics.stdev used to raise here
        alert["prvDiaForcedSources"][0]["psfFlux"] = math.inf
        alert["diaObject"]["r_psfFluxMean"] = math.inf

    alert = _alert(infinite)
    object_id = alert["diaObject"]["diaObjectId"]
    service, producer, objects = _service()
    report = service.process(records([encode_alert(alert)]))
    assert (report.dead_lettered, report.enriched, report.stored) == (0, 1, 1), report.reasons
    body = EnrichedRecord.from_bytes(producer.topic("alerts-enriched")[0][1])
    assert body.objects["latest_psfFlux"] is None and body.objects["r_psfFluxMean"] is None
    assert body.objects["lastDiaSourceMjdTai"] == alert["diaSource"]["midpointMjdTai"]
    assert body.objects["nDiaSources"] == alert["diaObject"]["nDiaSources"]
    assert body.lite["diaSourcesList"][0]["psfFlux"] is None  # the trigger is the newest
    full, _ = service.archive.latest(objects, object_id)  # as the archive reads it back (storage.archive's format)
    assert body.alert_pointer == objects.stored[object_id].alert_pointer and full["diaSourcesList"][0]["psfFlux"] is None
    stored = objects.stored[object_id]
    assert stored.row["latest_psfFlux"] is None and stored.lite["diaSourcesList"][0]["psfFlux"] is None
    assert all(p["psfFlux"] is None for p in stored.lite["diaSourcesList"] if p["psfFlux"] != p["psfFlux"])
    assert b"Infinity" not in producer.topic("alerts-enriched")[0][1]


@pytest.fixture
def moto_objects(monkeypatch: pytest.MonkeyPatch):
    with template_tables(monkeypatch):
        aws.client("s3").create_bucket(Bucket=settings().alerts_bucket)
        yield ObjectStore()


def test_a_value_dynamodb_cannot_hold_is_refused_alone_before_any_write(moto_objects: ObjectStore) -> None:
    # A finite value beyond DynamoDB's numbers used to raise decimal.Overflow inside the batch's
    # writes, failing the whole batch; now that record alone goes to the DLQ, the others are stored.
    # (JSON alerts: these fields are Avro floats, where 1e300 is already inf and 1e-200 zero.)
    too_big = _alert(lambda a: a["diaObject"].__setitem__("g_psfFluxMean", 1e300))
    too_small = _alert(lambda a: a["diaObject"].__setitem__("raErr", 1e-200))
    before, after = generate_alerts(2, seed=13)
    service, producer, _ = _service(objects=moto_objects)
    report = service.process(records([encode_alert(before), _json(too_big), _json(too_small), encode_alert(after)]))
    assert (report.dead_lettered, report.stored, report.enriched) == (2, 2, 2), report.reasons
    dead = producer.topic("alerts-dlq")
    assert [h["stage"] for *_, h in dead] == ["storage", "storage"]
    assert [h["source"] for *_, h in dead] == ["alerts-0@1", "alerts-0@2"]
    assert dead[0][3]["error"].startswith("objects.g_psfFluxMean = 1e+300 cannot be stored in DynamoDB")
    assert dead[1][3]["error"].startswith("objects.raErr = 1e-200 cannot be stored in DynamoDB")
    stored = moto_objects.get_many([a["diaObject"]["diaObjectId"] for a in (before, too_big, after)])
    assert set(stored) == {before["diaObject"]["diaObjectId"], after["diaObject"]["diaObjectId"]}


def test_the_stored_object_of_an_infinite_flux_alert_reads_back_null(moto_objects: ObjectStore) -> None:
    alert = _alert(lambda a: a["diaSource"].__setitem__("psfFlux", math.inf))
    service, _, _ = _service(objects=moto_objects, archive=AlertArchive())
    assert service.process(records([encode_alert(alert)])).stored == 1
    stored = moto_objects.get(alert["diaObject"]["diaObjectId"])  # its lite lightcurve from the archived alert
    assert stored.row["latest_psfFlux"] is None and stored.lite["diaSourcesList"][0]["psfFlux"] is None
    assert stored.row["lastDiaSourceMjdTai"] == alert["diaSource"]["midpointMjdTai"]


def test_an_item_over_dynamodbs_400_kb_is_refused_before_the_write() -> None:
    alert = generate_alerts(1, seed=15)[0]
    noise = os.urandom(500_000).hex()  # 1 MB that zlib cannot shrink, in a text column (the item keeps no lightcurve)
    with pytest.raises(UnstorableValue) as caught:
        object_item({**objects_row(alert), "latestPairColourBands": noise}, lite_lightcurve(alert),
                    dia_source_id=alert["diaSourceId"])
    assert "DynamoDB holds at most 400000" in str(caught.value)
    assert object_item(objects_row(alert), lite_lightcurve(alert)).dia_object_id == alert["diaObject"]["diaObjectId"]


@pytest.mark.parametrize("outage", [
    EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ConnectionError("DynamoDB unreachable"),
])
def test_a_store_outage_still_raises_so_the_batch_is_retried(outage: Exception) -> None:
    service, producer, _ = _service(objects=MemoryObjects(fail=outage))
    with pytest.raises(type(outage)):
        service.process(records([POISON["Avro container holding an int"][0], encode_alert(GOOD)]))
    assert producer.topic("alerts-enriched") == []


def test_an_unreachable_schema_registry_raises_instead_of_dead_lettering(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(value: bytes) -> Any:
        raise RegistryUnavailable("schema registry http://127.0.0.1:1 did not answer")

    monkeypatch.setattr(ingest, "decode_alert", unreachable)
    service, producer, _ = _service()
    with pytest.raises(RegistryUnavailable):
        service.process(records([encode_alert(GOOD)]))
    assert producer.topic("alerts-dlq") == []


def test_an_unexpected_error_of_one_record_is_dead_lettered_with_its_type(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ingest.enrich

    def fragile(alert: dict, schema_version: str) -> EnrichedRecord:
        if alert["diaObject"]["diaObjectId"] == GOOD["diaObject"]["diaObjectId"]:
            raise KeyError("psfFlux")
        return real(alert, schema_version)

    monkeypatch.setattr(ingest, "enrich", fragile)
    service, producer, _ = _service()
    report = service.process(records([encode_alert(GOOD), encode_alert(generate_alerts(1, seed=14)[0])]))
    (dead,) = producer.topic("alerts-dlq")
    assert dead[3]["stage"] == "features" and dead[3]["error"] == "features failed: KeyError: 'psfFlux'"
    assert report.enriched == 1


def test_record_and_infrastructure_errors_are_told_apart_by_type() -> None:
    assert is_infrastructure(EndpointConnectionError(endpoint_url="x"))
    assert is_infrastructure(RegistryUnavailable("down")) and is_infrastructure(TimeoutError())
    assert not is_infrastructure(BadAlert("unavailable"))  # the words do not matter, the type does
    assert not is_infrastructure(RecursionError()) and not is_infrastructure(ValueError("Connection refused"))
    assert not is_infrastructure(orjson.JSONDecodeError("x", "", 0))


def test_a_dead_letter_too_large_for_the_producer_keeps_its_headers_with_an_empty_value() -> None:
    producer = RecordingProducer(limit=100)
    line = DeadLetters(producer, "alerts-dlq").send(records([b"x" * 500])[0], "why " * 300, "size")
    ((_, value, key, headers),) = producer.sent
    assert value == b"" and key == b"k0" and headers["source"] == "alerts-0@0" and headers["stage"] == "size"
    assert len(headers["error"]) <= 1000 and headers["error"].endswith("(original value too large to keep; dropped)")
    assert line.startswith("alerts-0@0: why why")
