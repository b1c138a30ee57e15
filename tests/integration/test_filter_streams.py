"""Kafka filter streams on the local stack, as a Lasair user meets them.

Real parts throughout: tansu for Kafka, moto's server for DynamoDB/S3, the functions
hosted by the event-source runner, the HTTP API on a loopback port, and the records read
back with ``skystream.clients.lasair.lasair_consumer``. Which objects should match is computed
here from the generated alerts themselves, not by the SQL engine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from skystream.alerts.lightcurve import lite_and_full, lite_lightcurve
from skystream.alerts.wire import encode_alert
from skystream.clients.api import ApiClient, ApiError
from skystream.clients.lasair import lasair_consumer
from skystream.devtools.generator import generate_alerts
from skystream.domain.objects import AlertToArchive
from skystream.features import objects_row
from skystream.local.handlers import LocalLambdaContext, load_handler
from skystream.local.lag import wait_caught_up
from skystream.local.processes import free_port
from skystream.local.stack import FunctionHost
from skystream.local.testing import EphemeralStack, produce, read_topic
from skystream.storage.archive import AlertArchive
from skystream.storage.objects import ObjectStore
from skystream.storage.users import UserStore
from skystream.streams.admin import TopicAdmin
from skystream.streams.lambda_event import build_kafka_event

UTC_FORMAT_LEN = len("2026-01-29 11:40:14")
LITE_SOURCE_KEYS = {"psfFlux", "psfFluxErr", "midpointMjdTai", "band", "reliability"}
LITE_FORCED_KEYS = {"psfFlux", "psfFluxErr", "midpointMjdTai", "band"}


def matches(alert: dict[str, Any]) -> bool:
    """``objects.nDiaSources >= 5 AND objects.decl < 0``, evaluated on the alert itself."""
    obj = alert["diaObject"]
    return obj["nDiaSources"] >= 5 and obj["dec"] < 0


def consume(bootstrap: str, group: str, topic: str, *, credentials: dict[str, str], expected: int,
            idle: float = 3.0, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Read like Lasair's sample program, logged in with the user's stream credentials (POST /streams/credentials);
    keep polling ``idle`` s past ``expected`` to catch extras."""
    consumer = lasair_consumer(bootstrap, group, topic, credentials["username"], credentials["password"],
                               security_protocol=credentials["security_protocol"])
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(timeout=0.5)
            if msg is None:
                if len(records) >= expected and time.monotonic() - last > idle:
                    break
                continue
            if msg.error():  # UNKNOWN_TOPIC_OR_PART before the first record: keep waiting
                continue
            records.append({"key": msg.key(), "headers": dict(msg.headers() or []), **json.loads(msg.value())})
            last = time.monotonic()
    finally:
        consumer.close()
    return records


def assert_lasair_lite(record: dict[str, Any], selected: list[str]) -> None:
    body = {k: v for k, v in record.items() if k not in {"key", "headers"}}
    assert list(body) == [*selected, "UTC", "alert"]
    assert len(body["UTC"]) == UTC_FORMAT_LEN and body["UTC"][4] == "-" and body["UTC"][10] == " "
    assert list(body["alert"]) == ["diaSourcesList", "diaForcedSourcesList"]
    assert body["alert"]["diaSourcesList"], "a matching object has detections"
    assert all(set(s) == LITE_SOURCE_KEYS for s in body["alert"]["diaSourcesList"])
    assert all(set(s) == LITE_FORCED_KEYS for s in body["alert"]["diaForcedSourcesList"])
    assert record["key"] == str(body["diaObjectId"]).encode()
    assert record["headers"]["schema_version"] == b"11.1" and record["headers"]["filter_id"]


def wait_stored(ids: list[int], timeout: float = 60.0) -> None:
    store = ObjectStore()
    deadline = time.monotonic() + timeout
    while len(store.get_many(ids)) < len(ids):
        assert time.monotonic() < deadline, "the ingest did not store every alert in time"
        time.sleep(0.3)


def seed_objects(alerts: list[dict[str, Any]]) -> None:
    """Store objects directly (what ingest would: the full alerts archived, each item pointing at its own),
    for tests about the API rather than the pipeline."""
    store = ObjectStore()
    pointers = AlertArchive().put_batch([AlertToArchive("11.1", full=lite_and_full(alert)[1]) for alert in alerts])
    for alert, pointer in zip(alerts, pointers, strict=True):
        store.upsert_if_newer(objects_row(alert), lite_lightcurve(alert), schema_version="11.1",
                              dia_source_id=alert["diaSourceId"], pointer=pointer)


@pytest.fixture
def hosted(stack: EphemeralStack) -> Iterator[Callable[..., tuple[FunctionHost, str]]]:
    started: list[FunctionHost] = []

    def start(*functions: str) -> tuple[FunctionHost, str]:
        port = free_port()
        host = stack.host(only={*functions, "filter_api"}, api_port=port, batching_window_s=0.1).start()
        started.append(host)
        return host, f"http://127.0.0.1:{port}"

    yield start
    for host in started:
        host.stop()


def test_kafka_lite_end_to_end_with_lasair_consumer(stack: EphemeralStack, hosted: Callable) -> None:
    host, url = hosted("ingest_handler", "filter_matcher")
    user, token = UserStore().add("Ada", "ada@example.org")
    api = ApiClient(url, token)
    earlier, later = generate_alerts(40, seed=21), generate_alerts(40, seed=22)

    # Alerts already stored before the filter exists: the reseed draws on them.
    produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(a) for a in earlier])
    wait_stored([a["diaObject"]["diaObjectId"] for a in earlier])
    # ... and the matcher is done with them (no filter existed then), so only the reseed brings them back.
    wait_caught_up(stack.bootstrap, host.runners["filter_matcher"].group_id, os.environ["TOPIC_ENRICHED"])
    selected = ["diaObjectId", "ra", "decl", "nDiaSources"]
    saved = api.post("/filters", {
        "name": "bright south!", "description": "many detections, southern sky",
        "selected": "objects.diaObjectId, objects.ra, objects.decl, objects.nDiaSources",
        "tables": "objects", "conditions": "objects.nDiaSources >= 5 AND objects.decl < 0",
        "on_alert": True, "output": "kafka_lite",
    })
    topic = f"lasair_{user.user_id}brightsouth"
    assert saved["topic"] == topic and saved["filter"]["topic"] == topic
    assert sum(map(matches, earlier)) > 10 and saved["reseeded"] == 10
    assert topic in saved["message"]

    credentials = api.post("/streams/credentials")
    reseeded = consume(stack.bootstrap, "Susan3456", topic, credentials=credentials, expected=10)
    earlier_matching = {a["diaObject"]["diaObjectId"] for a in earlier if matches(a)}
    assert len(reseeded) == 10 and {r["diaObjectId"] for r in reseeded} <= earlier_matching
    for record in reseeded:
        assert_lasair_lite(record, selected)

    # Replay new alerts through ingest and matcher; the same group resumes after the reseed.
    produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(a) for a in later])
    expected = {a["diaObject"]["diaObjectId"]: a for a in later if matches(a)}
    assert 0 < len(expected) < len(later)
    streamed = consume(stack.bootstrap, "Susan3456", topic, credentials=credentials, expected=len(expected))
    assert sorted(r["diaObjectId"] for r in streamed) == sorted(expected)  # exactly these, each once
    for record in streamed:
        assert_lasair_lite(record, selected)
        alert = expected[record["diaObjectId"]]
        assert record["decl"] == alert["diaObject"]["dec"] and record["nDiaSources"] == alert["diaObject"]["nDiaSources"]
        newest = max(s["midpointMjdTai"] for s in [alert["diaSource"], *alert["prvDiaSources"]])
        assert max(s["midpointMjdTai"] for s in record["alert"]["diaSourcesList"]) == pytest.approx(newest)
    # A new group starts at the beginning: the reseeded records and the new ones.
    everything = consume(stack.bootstrap, "a-new-group", topic, credentials=credentials, expected=10 + len(expected))
    assert len(everything) == 10 + len(expected)

    # The objects route shows what the filter saw.
    some = later[0]
    shown = api.get(f"/objects/{some['diaObject']['diaObjectId']}")
    assert shown["objects"]["decl"] == some["diaObject"]["dec"] and shown["annotations"] == []
    assert len(shown["lite"]["diaSourcesList"]) == 1 + len(some["prvDiaSources"])


def test_rename_edit_and_delete_keep_topics_in_step(stack: EphemeralStack, hosted: Callable) -> None:
    _host, url = hosted()
    alerts = generate_alerts(40, seed=21)
    seed_objects(alerts)
    user, token = UserStore().add("Ada", "ada@example.org")
    api = ApiClient(url, token)
    admin = TopicAdmin()
    body = {"name": "first", "selected": "objects.diaObjectId, objects.nDiaSources", "tables": "objects",
            "conditions": "objects.nDiaSources >= 5", "on_alert": True, "output": "kafka_plain"}
    saved = api.post("/filters", body)
    fid, first = saved["filter"]["filter_id"], f"lasair_{user.user_id}first"
    assert saved["topic"] == first and saved["reseeded"] == 10 and first in admin.list_topics()

    renamed = api.put(f"/filters/{fid}", {**body, "name": "second", "version": 1})
    second = f"lasair_{user.user_id}second"
    assert renamed["topic"] == second and renamed["filter"]["version"] == 2
    topics = admin.list_topics()
    assert second in topics and first not in topics

    edited = api.patch(f"/filters/{fid}", {"version": 2, "conditions": "objects.nDiaSources < 3"})
    few = {a["diaObject"]["diaObjectId"] for a in alerts if a["diaObject"]["nDiaSources"] < 3}
    assert 0 < len(few) <= 10 and edited["reseeded"] == len(few)
    records = [json.loads(r.value) for r in read_topic(stack.bootstrap, second, idle=2.0)]
    assert sorted(r["diaObjectId"] for r in records) == sorted(few)  # the old records are gone
    assert all(r["nDiaSources"] < 3 for r in records)

    with pytest.raises(ApiError) as stale:
        api.patch(f"/filters/{fid}", {"version": 2, "description": "lost update"})
    assert stale.value.status == 409 and stale.value.body["error"] == "stale_version"

    muted = api.patch(f"/filters/{fid}", {"version": 3, "output": "none"})
    assert muted["topic"] is None and muted["reseeded"] == 0 and second not in admin.list_topics()
    api.patch(f"/filters/{fid}", {"version": 4, "output": "kafka_plain"})
    assert second in admin.list_topics()

    assert api.delete(f"/filters/{fid}") == {"deleted": fid, "topic_deleted": second}
    assert second not in admin.list_topics()
    with pytest.raises(ApiError) as gone:
        api.get(f"/filters/{fid}")
    assert gone.value.status == 404


def test_other_users_filters_private_hidden_public_read_only(stack: EphemeralStack, hosted: Callable) -> None:
    _host, url = hosted()
    seed_objects(generate_alerts(10, seed=23))
    _ada, ada_token = UserStore().add("Ada", "ada@example.org")
    _bob, bob_token = UserStore().add("Bob", "bob@example.org")
    ada, bob = ApiClient(url, ada_token), ApiClient(url, bob_token)
    body = {"name": "mine", "selected": "objects.diaObjectId", "tables": "objects",
            "conditions": "objects.nDiaSources >= 1", "output": "none"}
    fid = ada.post("/filters", body)["filter"]["filter_id"]

    def status(call: Callable[[], Any]) -> int:
        try:
            call()
        except ApiError as exc:
            assert set(exc.body) >= {"error", "detail"} and exc.body["detail"]
            return exc.status
        return 200

    assert status(lambda: bob.get(f"/filters/{fid}")) == 404
    assert status(lambda: bob.put(f"/filters/{fid}", {**body, "version": 1})) == 404
    assert status(lambda: bob.post(f"/filters/{fid}/run")) == 404
    assert status(lambda: bob.delete(f"/filters/{fid}")) == 404
    assert fid not in {f["filter_id"] for f in bob.get("/filters")["filters"]}

    ada.patch(f"/filters/{fid}", {"version": 1, "public": True})
    assert bob.get(f"/filters/{fid}")["public"] is True
    assert bob.post(f"/filters/{fid}/run?limit=5")["count"] == 5
    assert fid in {f["filter_id"] for f in bob.get("/filters")["filters"]}
    assert fid not in {f["filter_id"] for f in bob.get("/filters?public=false")["filters"]}
    assert status(lambda: bob.put(f"/filters/{fid}", {**body, "version": 2})) == 403
    assert status(lambda: bob.patch(f"/filters/{fid}", {"version": 2, "name": "stolen"})) == 403
    assert status(lambda: bob.delete(f"/filters/{fid}")) == 403
    assert ada.get(f"/filters/{fid}")["name"] == "mine"

    # The other answers a user can meet, each with its own status.
    assert status(lambda: ApiClient(url).get("/filters")) == 401
    assert status(lambda: ApiClient(url, "wrong").get("/filters")) == 401
    with pytest.raises(ApiError) as bad_sql:
        ada.post("/filters", {**body, "name": "bad", "conditions": "objects.nosuch > 1"})
    assert bad_sql.value.status == 400 and "nosuch" in bad_sql.value.body["detail"]
    with pytest.raises(ApiError) as shape:
        ada.post("/filters", {**body, "name": 5, "output": "carrier pigeon"})
    assert shape.value.status == 422 and {"body.output", "body.name"} <= {
        p["where"] for p in shape.value.body["problems"]}
    ada.post("/filters", {**body, "name": "topic one", "output": "kafka_plain"})
    with pytest.raises(ApiError) as clash:
        ada.post("/filters", {**body, "name": "topic-one!".replace("-", ""), "output": "kafka_plain"})
    assert clash.value.status == 409 and clash.value.body["error"] == "topic_clash"


def test_an_oversize_full_record_is_dropped_and_counted_the_others_delivered(
    stack: EphemeralStack, hosted: Callable
) -> None:
    _host, url = hosted("ingest_handler")
    _user, token = UserStore().add("Ada", "ada@example.org")
    normal = generate_alerts(3, seed=24)
    huge = generate_alerts(1, seed=25, detections=400)[0]  # its full record is ~1.3 MB, over the 1 MB limit
    saved = ApiClient(url, token).post("/filters", {
        "name": "everything", "selected": "objects.diaObjectId", "tables": "objects",
        "conditions": "objects.nDiaSources >= 1", "on_alert": True, "output": "kafka_full"})
    produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(a) for a in [*normal, huge]])
    enriched = read_topic(stack.bootstrap, os.environ["TOPIC_ENRICHED"], expected=4, timeout=60)
    assert len(enriched) == 4

    matcher = load_handler("functions/filter_matcher")
    event = build_kafka_event(enriched, bootstrap_servers=stack.bootstrap)
    counts = matcher(event, LocalLambdaContext("FilterMatcherFunction"))
    assert counts["matched"] == 4 and counts["produced"] == 3 and counts["dropped_oversize"] == 1

    delivered = [json.loads(r.value) for r in read_topic(stack.bootstrap, saved["topic"], idle=2.0)]
    assert sorted(r["diaObjectId"] for r in delivered) == sorted(a["diaObject"]["diaObjectId"] for a in normal)
    for record in delivered:
        assert list(record) == ["diaObjectId", "UTC", "alert"]
        assert set(record["alert"]) == {"diaObject", "diaSourcesList", "diaForcedSourcesList"}
        assert record["alert"]["diaObject"]["diaObjectId"] == record["diaObjectId"]

    # Saving again reseeds from storage: full alerts come from the archive, the huge one is dropped again.
    api = ApiClient(url, token)
    edited = api.patch(f"/filters/{saved['filter']['filter_id']}", {"version": 1, "description": "again"})
    assert edited["reseeded"] == 3 and "1 record(s) dropped for being over the 1 MB record limit" in edited["message"]
    again = [json.loads(r.value) for r in read_topic(stack.bootstrap, saved["topic"], idle=2.0)]
    assert sorted(r["diaObjectId"] for r in again) == sorted(a["diaObject"]["diaObjectId"] for a in normal)
    assert all(len(r["alert"]["diaSourcesList"]) >= 1 for r in again)
