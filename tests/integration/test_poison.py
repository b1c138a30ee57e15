"""Poison never blocks, on the local stack: real tansu, real moto server, the handlers on their runners.

Each poison record is produced to its trigger's topic and then a good record behind it on
the same partition (same key). The poison must land on ``alerts-dlq`` with its stage and
reason, and the good record after it must still be matched by an active Kafka filter (its
record reaches the filter's topic). Every one of these records once made its handler fail
and retry the same batch without end. The alert with infinite fluxes must be stored and
matched whole, with those fluxes null.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
from typing import Any

import fastavro
import orjson

from skystream.alerts.wire import encode_alert
from skystream.cli import main as cli
from skystream.clients.api import ApiClient
from skystream.devtools.generator import generate_alerts
from skystream.local.processes import free_port
from skystream.local.testing import EphemeralStack, produce, read_topic
from skystream.services.ingest import enrich
from skystream.storage.archive import AlertArchive
from skystream.storage.objects import ObjectStore
from skystream.storage.users import UserStore


def _json(alert: dict[str, Any]) -> bytes:
    return json.dumps(alert).encode()


def _changed(alert: dict[str, Any], change: Any) -> dict[str, Any]:
    alert = copy.deepcopy(alert)
    change(alert)
    return alert


def _container(schema: str, value: Any) -> bytes:
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), [value])
    return out.getvalue()


def _infinite_fluxes(alert: dict[str, Any]) -> None:
    alert["diaSource"]["psfFlux"] = math.inf  # latest_psfFlux
    for point in alert["prvDiaSources"][:3]:
        point["psfFlux"] = -math.inf  # in the jump baseline, where the features used to crash
    alert["prvDiaForcedSources"][0]["psfFlux"] = math.inf


def test_each_poison_goes_to_the_dlq_and_the_good_record_behind_it_is_matched(stack: EphemeralStack) -> None:
    port = free_port()
    host = stack.host(only={"ingest_handler", "filter_matcher", "annotation_handler", "filter_api"},
                      api_port=port, batching_window_s=0.1).start()
    try:
        user, token = UserStore().add("Poison Tester", "poison@example.org")
        assert cli(["annotators", "add", "judge", "--owner", str(user.user_id)]) == 0
        api = ApiClient(f"http://127.0.0.1:{port}", token)
        every_alert = api.post("/filters", {
            "name": "every alert", "selected": "objects.diaObjectId, objects.latest_psfFlux, objects.jump1",
            "tables": "objects", "conditions": "objects.diaObjectId > 0", "on_alert": True, "output": "kafka_plain",
        })["topic"]
        judged_sn = api.post("/filters", {
            "name": "judged SN", "selected": "objects.diaObjectId, judge.classification",
            "tables": "objects, annotator:judge", "conditions": "judge.classification = 'SN'",
            "on_annotation": True, "output": "kafka_plain",
        })["topic"]

        template, *good = generate_alerts(10, seed=77, detections=30)
        infinite = _changed(good[8], _infinite_fluxes)
        ingest_poison: list[tuple[bytes, str, str]] = [  # value, stage, words of the reason
            (encode_alert(_changed(template, lambda a: a["prvDiaSources"][0].__setitem__("midpointMjdTai", 1e300))),
             "decode", "prvDiaSources[0].midpointMjdTai = 1e+300 is outside the accepted MJD range"),
            (b'{"diaObject": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "decode", "JSON nested more than 32"),
            (b'{"diaObject": null, "diaSource": {"midpointMjdTai": ' + b"9" * 5001 + b"}}", "decode",
             "a JSON integer of 5001 digits"),
            (_container("string", "alert?"), "decode", "first record is a string, not an alert record"),
            (_container("int", 42), "decode", "first record is a long, not an alert record"),
            (_json(_changed(template, lambda a: a["diaObject"].__setitem__("diaObjectId", 2**63))), "decode",
             "diaObject.diaObjectId = 9223372036854775808 is not a positive signed 64-bit integer"),
            (_json(_changed(template, lambda a: a["diaObject"].__setitem__("g_psfFluxMean", 1e300))), "storage",
             "objects.g_psfFluxMean = 1e+300 cannot be stored in DynamoDB"),
        ]
        values: list[bytes] = []
        for (poison, _, _), after in zip(ingest_poison, good, strict=False):
            values += [poison, encode_alert(after)]
        values.append(encode_alert(infinite))
        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], values, keys=[b"one partition"] * len(values))

        # The matcher's own guard: an enriched record an older ingest wrote with diaObjectId 2**63,
        # keyed like the good alert's enriched record, so that one lands behind it on its partition.
        last = good[7]
        old = orjson.loads(enrich(last, "11.1").to_bytes())
        old["objects"]["diaObjectId"] = 2**63
        key = str(last["diaObject"]["diaObjectId"]).encode()
        produce(stack.bootstrap, os.environ["TOPIC_ENRICHED"], [orjson.dumps(old)], keys=[key])
        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(last)], keys=[b"one partition"])

        expected_ids = [a["diaObject"]["diaObjectId"] for a in good[:7]] + [
            last["diaObject"]["diaObjectId"], infinite["diaObject"]["diaObjectId"]]
        matched = read_topic(stack.bootstrap, every_alert, expected=len(expected_ids), timeout=90)

        # The annotation trigger: an event with diaObjectId 10**40, then the judge's upload behind it.
        judged = good[0]["diaObject"]["diaObjectId"]
        poison_event = json.dumps({"diaObjectId": 10**40, "annotator": "judge", "classification": "SN",
                                   "uploaded_us": 1}).encode()
        produce(stack.bootstrap, os.environ["TOPIC_ANNOTATIONS"], [poison_event], keys=[str(judged).encode()])
        uploaded = api.post("/annotations", {"annotator": "judge", "diaObjectId": judged, "classification": "SN"})
        assert uploaded["accepted"] == 1
        sn = read_topic(stack.bootstrap, judged_sn, expected=1, timeout=60)

        dlq = read_topic(stack.bootstrap, os.environ["TOPIC_DLQ"], expected=len(ingest_poison) + 2, timeout=60)
        runners = dict(host.runners)
    finally:
        host.stop()

    for name in ("ingest_handler", "filter_matcher", "annotation_handler"):
        assert runners[name].stats.failed_calls == 0, (name, runners[name].stats.last_error)

    # every good record behind a poison was matched, and nothing else
    bodies = [json.loads(r.value) for r in matched]
    assert sorted(b["diaObjectId"] for b in bodies) == sorted(expected_ids)
    assert [(json.loads(r.value)["diaObjectId"], json.loads(r.value)["classification"]) for r in sn] == [
        (judged, "SN")]

    # each poison on the DLQ, byte for byte, with its stage, reason and source
    by_value = {r.value: r for r in dlq}
    assert len(dlq) == len(ingest_poison) + 2
    for value, stage, words in ingest_poison:
        headers = by_value[value].headers
        assert headers["stage"].decode() == stage and words in headers["error"].decode(), headers
        assert headers["source"].decode().startswith(os.environ["TOPIC_ALERTS"] + "-")
    matcher_dead = by_value[orjson.dumps(old)].headers
    assert matcher_dead["stage"] == b"match" and matcher_dead["source"].startswith(os.environ["TOPIC_ENRICHED"].encode())
    assert b"objects.diaObjectId = 9223372036854775808 is not a positive signed 64-bit integer" in matcher_dead["error"]
    annotation_dead = by_value[poison_event].headers
    assert annotation_dead["stage"] == b"annotation"
    assert b"less than or equal to 9223372036854775807" in annotation_dead["error"]

    # the alert with infinite fluxes: stored and matched whole, those fluxes null
    infinite_id = infinite["diaObject"]["diaObjectId"]
    (record,) = [b for b in bodies if b["diaObjectId"] == infinite_id]
    assert record["latest_psfFlux"] is None
    stored = ObjectStore().get(infinite_id)
    assert stored is not None and stored.row["latest_psfFlux"] is None
    assert stored.row["lastDiaSourceMjdTai"] == infinite["diaSource"]["midpointMjdTai"]
    assert stored.lite["diaSourcesList"][0]["psfFlux"] is None
    assert len(stored.lite["diaSourcesList"]) == 1 + len(infinite["prvDiaSources"])
    archived = AlertArchive().get(stored.alert_pointer)
    assert archived is not None and archived[0]["diaSourcesList"][0]["psfFlux"] is None
    assert archived[0]["diaForcedSourcesList"][-1]["psfFlux"] is None  # the oldest forced point
