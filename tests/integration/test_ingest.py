"""Ingest on the local stack: real broker, real DynamoDB/S3 endpoint, the handler run by the event-source runner."""

from __future__ import annotations

import json
import os
import struct
import time

from skystream.alerts.enriched import EnrichedRecord
from skystream.alerts.lightcurve import full_alert
from skystream.alerts.wire import encode_alert
from skystream.devtools.generator import generate_alerts
from skystream.domain.records import KafkaRecord
from skystream.local.testing import EphemeralStack, produce, read_topic
from skystream.storage.archive import AlertArchive
from skystream.storage.objects import ObjectStore
from skystream.wiring.ingest import ingest_service


def _malformed(good: bytes, alert: dict) -> list[tuple[str, bytes]]:
    """Ten broken records of different kinds, each with a word its DLQ reason must contain."""
    no_object = {k: v for k, v in alert.items() if k != "diaObject"}
    v10 = encode_alert(generate_alerts(1, seed=99, schema_version="10.0")[0], "10.0")
    return [
        ("unknown alert schema id", b"\x00" + struct.pack(">I", 4242) + good[5:]),
        ("truncated", good[: len(good) // 2]),
        ("wrong magic byte", b"\x07" + good[1:]),
        ("wrong magic byte", b"this is not an alert at all"),
        ("missing diaObject", json.dumps(no_object).encode()),
        ("empty record", b""),
        ("not valid JSON", b"{not json"),
        ("truncated wire-format header", b"\x00\x00\x04"),
        ("schema 11.1", b"\x00" + struct.pack(">I", 1101) + v10[5:]),  # a 10.0 body labelled 11.1
        ("diaObjectId", json.dumps({**alert, "diaObject": {"ra": 1.0, "dec": 2.0}}).encode()),
    ]


def test_a_mixed_batch_gives_enriched_records_and_reasoned_dead_letters(stack: EphemeralStack) -> None:
    alerts = generate_alerts(100, seed=5)
    good = [encode_alert(a) for a in alerts]
    broken = _malformed(good[0], alerts[0])
    solar = generate_alerts(3, seed=6, solar_system_fraction=1.0)
    values = good[:50] + [b for _, b in broken] + [encode_alert(a) for a in solar] + good[50:]
    host = stack.host(only={"ingest_handler"}, batching_window_s=0.2).start()
    try:
        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], values)
        enriched = read_topic(stack.bootstrap, os.environ["TOPIC_ENRICHED"], expected=100, timeout=60)
        dlq = read_topic(stack.bootstrap, os.environ["TOPIC_DLQ"], expected=10, timeout=30)
        runner = host.runners["ingest_handler"]
    finally:
        host.stop()
    assert runner.stats.failed_calls == 0, runner.stats.last_error  # no exception out of the handler
    assert len(enriched) == 100 and len(dlq) == 10
    by_id = {a["diaObject"]["diaObjectId"]: a for a in alerts}
    bodies = [EnrichedRecord.from_bytes(record.value) for record in enriched]
    archived_alerts = AlertArchive().get_many(body.alert_pointer for body in bodies)  # the record points at its alert
    for record, body in zip(enriched, bodies, strict=True):
        alert = by_id[body.objects["diaObjectId"]]
        assert record.key == str(alert["diaObject"]["diaObjectId"]).encode()
        assert body.alert is None and archived_alerts[body.alert_pointer] == (
            json.loads(json.dumps(full_alert(alert))), "11.1")
        assert body.objects["lastDiaSourceMjdTai"] == alert["diaSource"]["midpointMjdTai"]
        assert record.headers["schema_version"] == b"11.1"
    # each broken record comes back byte for byte, with its own reason
    assert sorted(r.value for r in dlq) == sorted(b for _, b in broken)
    for record in dlq:
        expected = next(word for word, value in broken if value == record.value)
        assert expected in record.headers["error"].decode(), (expected, record.headers)
        assert record.headers["source"].startswith(os.environ["TOPIC_ALERTS"].encode())
    # stored: every good object, its lite lightcurve, and its full alert in S3
    objects = ObjectStore().get_many(by_id)
    assert set(objects) == set(by_id)
    sample = ObjectStore().get(alerts[7]["diaObject"]["diaObjectId"])  # get() reads the lite lightcurve too
    assert len(sample.lite["diaSourcesList"]) == 1 + len(alerts[7]["prvDiaSources"])
    archived = AlertArchive().get(sample.alert_pointer)
    assert archived is not None and archived[1] == "11.1"
    assert archived[0]["diaSourcesList"][0]["diaSourceId"] == alerts[7]["diaSourceId"]


def _records(values: list[bytes]) -> list[KafkaRecord]:
    return [KafkaRecord(topic="alerts", partition=0, offset=i, value=v) for i, v in enumerate(values)]


def test_replays_and_older_alerts_never_move_an_object_back(stack: EphemeralStack) -> None:
    # four successive alerts of each of five objects, oldest first
    stream = generate_alerts(20, seed=8, alerts_per_object=4, kinds=["supernova"])
    service = ingest_service()
    store = ObjectStore()
    newest: dict[int, dict] = {}
    for alert in stream:
        newest[alert["diaObject"]["diaObjectId"]] = alert  # later in the stream = newer
    first = service.process(_records([encode_alert(a) for a in stream]))
    assert first.enriched == 20 and first.dead_lettered == 0
    state = {i: store.get(i) for i in newest}
    for object_id, alert in newest.items():
        assert state[object_id].row["lastDiaSourceMjdTai"] == alert["diaSource"]["midpointMjdTai"]
        assert state[object_id].dia_source_id == alert["diaSourceId"]

    again = service.process(_records([encode_alert(a) for a in stream]))  # the same batch replayed
    assert again.enriched == 20
    assert {i: store.get(i).row for i in newest} == {i: s.row for i, s in state.items()}
    assert {i: store.get(i).lite for i in newest} == {i: s.lite for i, s in state.items()}

    oldest_first_alert = stream[0]
    late = service.process(_records([encode_alert(oldest_first_alert)]))  # an old alert, late
    assert late.stale == 1 and late.stored == 0 and late.enriched == 1
    object_id = oldest_first_alert["diaObject"]["diaObjectId"]
    assert store.get(object_id).row == state[object_id].row
    full, _ = AlertArchive().get(store.get(object_id).alert_pointer)
    assert full["diaSourcesList"][0]["diaSourceId"] == newest[object_id]["diaSourceId"]

    recent = store.recent(3)
    assert len(recent) == 3
    mjds = [s.row["lastDiaSourceMjdTai"] for s in recent]
    assert mjds == sorted(mjds, reverse=True)
    assert mjds[0] == max(a["diaSource"]["midpointMjdTai"] for a in newest.values())


def test_cli_replay_feeds_the_stack_and_object_shows_the_stored_row(stack: EphemeralStack, capsys) -> None:
    from skystream.cli import main

    host = stack.host(only={"ingest_handler"}, batching_window_s=0.1).start()
    try:
        started = time.monotonic()
        assert main(["alerts", "replay", "--count", "5", "--seed", "21", "--rate", "10"]) == 0
        assert time.monotonic() - started >= 0.4  # 5 alerts at 10/s: the last leaves 0.4 s after the first
        enriched = read_topic(stack.bootstrap, os.environ["TOPIC_ENRICHED"], expected=5, timeout=60)
    finally:
        host.stop()
    assert len(enriched) == 5
    alert = generate_alerts(5, seed=21)[2]
    capsys.readouterr()
    assert main(["object", str(alert["diaObject"]["diaObjectId"])]) == 0
    text = capsys.readouterr().out
    assert f"diaObjectId                  {alert['diaObject']['diaObjectId']}" in text
    assert f"lite lightcurve: {1 + len(alert['prvDiaSources'])} detections" in text
    assert main(["object", "12345"]) == 1
