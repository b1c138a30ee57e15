"""Alerts replayed through the local stack appear in the history (issue 17's first acceptance point).

Real parts: the tansu broker, the moto server, ingest and the history writer hosted from the template by
the event-source runner (the writer's 300 s window capped locally), the Parquet files read back from the
bucket over the endpoint. Counts: one objects_history row and one detection per alert replayed, each
alert's own diaSourceId, and forced photometry only newer than each alert's previous detection.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from skystream.alerts.wire import encode_alert
from skystream.cli import main as cli
from skystream.clients.api import ApiClient
from skystream.devtools.generator import generate_alerts
from skystream.domain.objects import night_of
from skystream.history.parquet import read_parquet
from skystream.history.rows import new_forced
from skystream.local.testing import EphemeralStack, produce, read_topic
from skystream.storage.users import UserStore
from skystream.wiring.history import history_lake

REPLAYED = 200


def _history_rows(table: str) -> list[dict]:
    lake = history_lake()
    root = lake.local_dir(table)  # mirrored from the bucket over the local endpoint
    return read_parquet(os.path.join(root, f.key.removeprefix(f"history/{table}/")) for f in lake.files(table))


def test_replayed_alerts_appear_in_the_history_one_row_each(stack: EphemeralStack,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    alerts = generate_alerts(REPLAYED, seed=17, alerts_per_object=2)
    host = stack.host(only={"ingest_handler", "history_writer"}).start()
    try:
        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(a) for a in alerts])
        read_topic(stack.bootstrap, os.environ["TOPIC_ENRICHED"], expected=REPLAYED, timeout=60)
        writer = host.runners["history_writer"]
        deadline = time.monotonic() + 45
        while writer.stats.records < REPLAYED and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        host.stop()
    assert writer.stats.failed_calls == 0, writer.stats.last_error
    assert writer.stats.records == REPLAYED

    objects = _history_rows("objects_history")
    detections = _history_rows("detections")
    forced = _history_rows("forced_photometry")
    assert len(objects) == REPLAYED and len(detections) == REPLAYED
    assert sorted(r["diaSourceId"] for r in objects) == sorted(a["diaSource"]["diaSourceId"] for a in alerts)
    assert sorted(r["diaSourceId"] for r in detections) == sorted(r["diaSourceId"] for r in objects)
    by_source = {a["diaSource"]["diaSourceId"]: a for a in alerts}
    for row in objects[:20]:
        alert = by_source[row["diaSourceId"]]
        assert row["diaObjectId"] == alert["diaObject"]["diaObjectId"]
        assert row["alertMjdTai"] == alert["diaSource"]["midpointMjdTai"]
    assert sorted(r["diaForcedSourceId"] for r in forced) == sorted(
        f["diaForcedSourceId"] for a in alerts for f in new_forced(a))
    nights = {night_of(a["diaSource"]["midpointMjdTai"]) for a in alerts}
    assert set(history_lake().nights("objects_history")) == nights

    # The operator's view and compaction, through the command line: the rows stay, the files become one a night.
    capsys.readouterr()
    assert cli(["history", "status", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert sum(s["rows"] for s in before if s["table"] == "objects_history") == REPLAYED
    assert cli(["history", "compact", "--json"]) == 0
    compacted = json.loads(capsys.readouterr().out)
    assert {(c["table"], c["night"]) for c in compacted} == {(s["table"], s["night"]) for s in before}
    assert cli(["history", "status", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert all(s["files"] == 1 for s in after)
    assert {(s["table"], s["night"]): s["rows"] for s in after} == {(s["table"], s["night"]): s["rows"] for s in before}
    assert len(_history_rows("objects_history")) == REPLAYED

    # The object route gains the whole detection history from the lake (issue 17, "lightcurve").
    _user, token = UserStore().add("Ada", "ada@example.org")
    oid = alerts[0]["diaObject"]["diaObjectId"]
    own = sorted((a for a in alerts if a["diaObject"]["diaObjectId"] == oid), key=lambda a: a["diaSource"]["midpointMjdTai"])
    with stack.api() as url:
        page = ApiClient(url, token).get(f"/objects/{oid}?history=true")
        plain = ApiClient(url, token).get(f"/objects/{oid}")
    assert [d["diaSourceId"] for d in page["history"]["detections"]] == [a["diaSource"]["diaSourceId"] for a in own]
    assert len(own) == 2 and page["history"]["detections"][0]["psfFlux"] == own[0]["diaSource"]["psfFlux"]
    assert sorted(f["diaForcedSourceId"] for f in page["history"]["forced_photometry"]) == sorted(
        f["diaForcedSourceId"] for a in own for f in new_forced(a))
    assert plain["history"] is None
