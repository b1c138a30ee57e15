"""Annotations and context end to end on the local stack: alerts in through the ingest, uploads and
filters through the HTTP API, the annotation handler on its event-source runner, records read back
from the filters' topics the way a user's consumer would."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skystream.alerts.lightcurve import full_alert, lite_lightcurve
from skystream.alerts.wire import encode_alert
from skystream.cli import main as cli
from skystream.devtools.generator import generate_alerts
from skystream.local.processes import free_port
from skystream.local.stack import FunctionHost
from skystream.local.testing import EphemeralStack, produce, read_topic
from skystream.storage.users import UserStore


class Api:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, token: str | None, body: Any = None,
             content_type: str = "application/json") -> tuple[int, Any]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            request.add_header("Authorization", f"Token {token}")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)


@pytest.fixture
def running(stack: EphemeralStack) -> Iterator[tuple[EphemeralStack, FunctionHost, Api]]:
    port = free_port()
    host = stack.host(only={"ingest_handler", "filter_matcher", "annotation_handler", "filter_api"},
                      api_port=port, batching_window_s=0.1).start()
    try:
        yield stack, host, Api(port)
    finally:
        host.stop()


def _wait_for_object(api: Api, token: str, object_id: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.call("GET", f"/objects/{object_id}", token)[0] == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"object {object_id} was not stored by the ingest within {timeout} s")


def _filter(api: Api, token: str, name: str, selected: str, tables: str, conditions: str, *,
            on_alert: bool = False, on_annotation: bool = False, output: str = "kafka_plain") -> str:
    status, body = api.call("POST", "/filters", token, {
        "name": name, "selected": selected, "tables": tables, "conditions": conditions,
        "on_alert": on_alert, "on_annotation": on_annotation, "output": output,
    })
    assert status == 201, body
    return body["filter"]["topic"]


def _values(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]


def test_annotations_trigger_filters_and_alert_filters_see_them(
    running: tuple[EphemeralStack, FunctionHost, Api], tmp_path: Path,
) -> None:
    stack, _host, api = running
    users = UserStore()
    owner, owner_token = users.add("classifier owner", "owner@example.org")
    _, other_token = users.add("someone else", "other@example.org")
    assert cli(["annotators", "add", "myclassifier", "--owner", str(owner.user_id)]) == 0

    alerts = generate_alerts(4, seed=6, alerts_per_object=2, kinds=["supernova"])
    x_first, x_second, y_only = alerts[0], alerts[1], alerts[2]
    x, y = x_first["diaObject"]["diaObjectId"], y_only["diaObject"]["diaObjectId"]
    assert x_second["diaObject"]["diaObjectId"] == x != y

    # Context: x is a sherlock SN, y an AGN; loaded by the admin CLI from a CSV file.
    sherlock = tmp_path / "sherlock_classifications.csv"
    sherlock.write_text(f"diaObjectId,classification,separationArcsec\n{x},SN,0.4\n{y},AGN,2.5\n")
    assert cli(["context", "load", str(sherlock)]) == 0

    sn_topic = _filter(api, owner_token, "sn", "objects.diaObjectId, myclassifier.classification",
                       "objects, annotator:myclassifier", "myclassifier.classification = 'SN'", on_annotation=True)
    prob_topic = _filter(api, owner_token, "prob", "objects.diaObjectId, myclassifier.classdict",
                         "objects, annotator:myclassifier",
                         "JSON_EXTRACT(myclassifier.classdict, '$.prob') > 0.8", on_annotation=True)
    both_topic = _filter(api, owner_token, "both", "objects.diaObjectId, myclassifier.classification",
                         "objects, annotator:myclassifier", "myclassifier.classification IN ('AGN', 'SN')",
                         on_alert=True, on_annotation=True)
    lite_topic = _filter(api, owner_token, "lite", "objects.diaObjectId", "objects, annotator:myclassifier",
                         "myclassifier.classification = 'SN'", on_annotation=True, output="kafka_lite")
    full_topic = _filter(api, owner_token, "full", "objects.diaObjectId", "objects, annotator:myclassifier",
                         "myclassifier.classification = 'SN'", on_annotation=True, output="kafka_full")
    sherlock_topic = _filter(api, owner_token, "hosted", "objects.diaObjectId, sherlock_classifications.classification",
                             "objects, sherlock_classifications", "sherlock_classifications.classification = 'SN'",
                             on_alert=True)

    produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(x_first), encode_alert(y_only)])
    _wait_for_object(api, owner_token, x)
    _wait_for_object(api, owner_token, y)
    hosted = _values(read_topic(stack.bootstrap, sherlock_topic, expected=1, timeout=30))
    assert [(r["diaObjectId"], r["classification"]) for r in hosted] == [(x, "SN")]

    # Not the owner: refused, nothing stored, nothing triggered.
    status, body = api.call("POST", "/annotations", other_token,
                            {"annotator": "myclassifier", "diaObjectId": x, "classification": "SN"})
    assert status == 403 and "belongs to another user" in body["detail"]

    # The owner's AGN: only the both-triggers filter takes it (annotation time).
    status, body = api.call("POST", "/annotations", owner_token, {
        "annotator": "myclassifier", "diaObjectId": x, "classification": "AGN", "classdict": {"prob": 0.5}})
    assert status == 201 and body["accepted"] == 1, body
    first = _values(read_topic(stack.bootstrap, both_topic, expected=1, timeout=30))
    assert [(r["diaObjectId"], r["classification"]) for r in first] == [(x, "AGN")]

    # A new alert of x: the alert-time filter sees the latest annotation at once.
    produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(x_second)])
    second = _values(read_topic(stack.bootstrap, both_topic, expected=2, timeout=30))
    assert [(r["diaObjectId"], r["classification"]) for r in second] == [(x, "AGN"), (x, "AGN")]

    # SN with prob 0.9 for x, then a non-SN with prob 0.95 for y, in one request.
    started = time.monotonic()
    status, body = api.call("POST", "/annotations", owner_token, [
        {"annotator": "myclassifier", "diaObjectId": x, "classification": "SN", "classdict": {"prob": 0.9},
         "version": "2", "explanation": "fast riser", "url": "https://example.org/x"},
        {"annotator": "myclassifier", "diaObjectId": y, "classification": "VS", "classdict": {"prob": 0.95}},
    ])
    assert status == 201 and body["accepted"] == 2, body
    sn = _values(read_topic(stack.bootstrap, sn_topic, expected=1, timeout=30))
    latency = time.monotonic() - started
    print(f"upload -> annotation-time record: {latency:.2f} s")
    assert latency < 10, f"the annotation-time record took {latency:.1f} s"
    prob = _values(read_topic(stack.bootstrap, prob_topic, expected=2, timeout=30))
    both = _values(read_topic(stack.bootstrap, both_topic, expected=3, timeout=30))
    # Let any stray late record arrive before counting exactly.
    sn = _values(read_topic(stack.bootstrap, sn_topic, idle=2.0, timeout=10))
    assert [(r["diaObjectId"], r["classification"]) for r in sn] == [(x, "SN")]
    assert sorted((r["diaObjectId"], json.loads(r["classdict"])["prob"]) for r in prob) == [(x, 0.9), (y, 0.95)]
    assert [r["classification"] for r in both] == ["AGN", "AGN", "SN"]  # alert-time, then annotation-time
    assert all("UTC" in r for r in sn + prob + both)
    # Lite and full records of the annotation trigger carry the stored lightcurve and the latest alert.
    (lite,) = _values(read_topic(stack.bootstrap, lite_topic, expected=1, timeout=30))
    (full,) = read_topic(stack.bootstrap, full_topic, expected=1, timeout=30)
    assert lite["alert"] == json.loads(json.dumps(lite_lightcurve(x_second)))
    assert json.loads(full.value)["alert"] == json.loads(json.dumps(full_alert(x_second)))
    assert full.key == str(x).encode()

    status, shown = api.call("GET", f"/objects/{x}/annotations", owner_token)
    assert status == 200
    assert [a["classification"] for a in shown["annotations"]] == ["SN"]
    assert [a["classification"] for a in shown["history"]] == ["SN", "AGN"]
    assert shown["annotations"][0]["explanation"] == "fast riser"
    status, shown = api.call("GET", f"/objects/{x}", owner_token)
    assert status == 200
    assert [a["classification"] for a in shown["annotations"]] == ["SN"]
    assert [a["classification"] for a in shown["annotation_history"]] == ["SN", "AGN"]
    assert shown["context"]["sherlock_classifications"]["classification"] == "SN"


def test_upload_and_context_errors_are_clear_4xx(stack: EphemeralStack) -> None:
    port = free_port()
    host = stack.host(only={"filter_api"}, api_port=port).start()
    try:
        _errors(Api(port))
    finally:
        host.stop()


def _errors(api: Api) -> None:
    users = UserStore()
    owner, owner_token = users.add("owner", "owner@example.org")
    _, admin_token = users.add("admin", "admin@example.org", is_admin=True)
    assert cli(["annotators", "add", "retired", "--owner", str(owner.user_id)]) == 0
    assert cli(["annotators", "deactivate", "retired"]) == 0
    good = {"annotator": "retired", "diaObjectId": 5, "classification": "SN"}

    assert api.call("POST", "/annotations", None, good)[0] == 401
    status, body = api.call("POST", "/annotations", owner_token, good)
    assert status == 403 and "inactive" in body["detail"]
    status, body = api.call("POST", "/annotations", owner_token, {**good, "annotator": "ghost"})
    assert status == 404 and "skystream annotators add ghost" in body["detail"]
    status, body = api.call("POST", "/annotations", owner_token, [good, {**good, "classification": "x" * 81}])
    assert status == 400 and "annotation 1: classification" in body["detail"]
    status, body = api.call("POST", "/annotations", owner_token, b"{not json")
    assert status == 400 and "not valid JSON" in body["detail"]

    rows = [{"diaObjectId": 5, "tns_name": "2026xyz", "type": "SN Ia"}]
    status, body = api.call("POST", "/context/crossmatch_tns", owner_token, rows)
    assert status == 403
    status, body = api.call("POST", "/context/objects", admin_token, rows)
    assert status == 404
    status, body = api.call("POST", "/context/crossmatch_tns", admin_token, [{"diaObjectId": 5, "tns": "x"}])
    assert status == 400 and "has no column tns" in body["detail"]
    status, body = api.call("POST", "/context/crossmatch_tns", admin_token, rows)
    assert (status, body) == (200, {"table": "crossmatch_tns", "stored": 1})
    status, body = api.call("POST", "/context/sherlock_classifications", admin_token,
                            b"diaObjectId,classification\n5,SN\n6,AGN\n", content_type="text/csv")
    assert (status, body["stored"]) == (200, 2)
