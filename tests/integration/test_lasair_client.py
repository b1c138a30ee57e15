"""Lasair's own client (PyPI ``lasair`` 0.1.4, unchanged) against the local stack after a replay (issue 18).

Alerts go through the real ingest on the event-source runner; the client talks HTTP to the local
API (the filter_api function); every answer is compared with what this test computes on its own:
cones with astropy's separations from the positions it gave the alerts, the query with the native
run route, the object with the alert's detections, annotations read back and an on-annotation
filter's record read from its topic; and a key over its tier's hourly calls makes the client raise
its "Request limit exceeded" error. Before issue 18 every call answered 404.
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.request
from typing import Any

import lasair
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from skystream.alerts.lightcurve import detections
from skystream.alerts.wire import encode_alert
from skystream.devtools.generator import generate_alerts
from skystream.local.processes import free_port
from skystream.local.testing import EphemeralStack, produce, read_topic
from skystream.storage.annotators import AnnotatorRegistry
from skystream.storage.context import ContextStore
from skystream.storage.objects import ObjectStore
from skystream.storage.users import UserStore

CENTRES = {"north pole": (10.0, 89.99), "south pole": (200.0, -89.95), "ra 0/360": (359.9995, 12.0)}
RADII = (1.0, 60.0, 1000.0)
# (distance arcsec, position angle deg) of the objects placed around each centre: inside and
# outside each radius, on both sides of RA 0/360 and across the poles
PLACES = [(0.4, 10.0), (1.6, 100.0), (35.0, 200.0), (85.0, 280.0), (600.0, 45.0), (1300.0, 135.0)]


def offset(ra: float, dec: float, distance_arcsec: float, angle_deg: float) -> tuple[float, float]:
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    moved = centre.directional_offset_by(angle_deg * u.deg, distance_arcsec * u.arcsec)
    return float(moved.ra.deg) % 360.0, float(moved.dec.deg)


def api_call(port: int, method: str, path: str, token: str, body: Any = None) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_every_lasair_client_method_against_the_local_stack(stack: EphemeralStack) -> None:
    users = UserStore()
    owner, token = users.add("Lasair user", "lasair@example.org")
    _public, public_key = users.add("Public key", "public@example.org", api_tier="anonymous")
    AnnotatorRegistry().add("myclassifier", owner.user_id)

    alerts = generate_alerts(len(CENTRES) * len(PLACES) + 2, seed=18, kinds=["supernova"])
    positions: dict[int, tuple[float, float]] = {}
    places = [offset(*centre, d, a) for centre in CENTRES.values() for d, a in PLACES]
    for alert, place in zip(alerts, places, strict=False):
        alert["diaObject"]["ra"], alert["diaObject"]["dec"] = place
    for alert in alerts:
        positions[alert["diaObject"]["diaObjectId"]] = (alert["diaObject"]["ra"], alert["diaObject"]["dec"])

    port = free_port()
    host = stack.host(only={"ingest_handler", "filter_matcher", "annotation_handler", "filter_api"},
                      api_port=port, batching_window_s=0.1).start()
    try:
        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(a) for a in alerts])
        store, deadline = ObjectStore(), time.monotonic() + 60
        while len(store.get_many(positions)) < len(positions):
            assert time.monotonic() < deadline, "the ingest did not store every replayed object in 60 s"
            time.sleep(0.2)

        client = lasair.lasair_client(token, endpoint=f"http://127.0.0.1:{port}/api")

        # cone: the set within the radius by exact distance (astropy's), at 1, 60 and 1000 arcsec
        ids = list(positions)
        coords = SkyCoord([positions[i][0] for i in ids] * u.deg, [positions[i][1] for i in ids] * u.deg)
        for name, (ra, dec) in CENTRES.items():
            separations = SkyCoord(ra * u.deg, dec * u.deg).separation(coords).arcsec
            for radius in RADII:
                expected = sorted((s, i) for s, i in zip(separations, ids, strict=True) if s <= radius)
                got = client.cone(ra, dec, radius, requestType="all")
                assert [o["object"] for o in got["objects"]] == [i for _, i in expected], (name, radius)
                assert [o["separation"] for o in got["objects"]] == pytest.approx([s for s, _ in expected], abs=1e-6)
                assert got["count"] == len(expected) >= 1
        assert client.cone(*CENTRES["ra 0/360"], 60, requestType="count") == {"count": 3}
        nearest = client.cone(*CENTRES["north pole"], 1000, requestType="nearest")["nearest"]
        assert nearest["object"] == ids[0] and nearest["separation"] == pytest.approx(0.4, abs=1e-6)

        # query: the same rows as the native run route
        parts = {"selected": "objects.diaObjectId, objects.ra, objects.decl, objects.nDiaSources",
                 "tables": "objects", "conditions": "objects.decl > 0"}
        native = api_call(port, "POST", "/filters/run", token, {**parts, "output": "none", "limit": 1000})
        rows = client.query(parts["selected"], parts["tables"], parts["conditions"])
        assert rows == native["rows"] and len(rows) == sum(1 for _, d in positions.values() if d > 0)

        # object: its detections, lite (the client's default) and full
        alert = alerts[-1]
        object_id = alert["diaObject"]["diaObjectId"]
        page = client.object(object_id)
        assert page["diaObjectId"] == object_id and page["diaObject"]["ra"] == pytest.approx(alert["diaObject"]["ra"])
        assert [s["midpointMjdTai"] for s in page["diaSourcesList"]] == [s["midpointMjdTai"] for s in detections(alert)]
        full = client.object(object_id, lite=False, lasair_added=False)
        assert [s["diaSourceId"] for s in full["diaSourcesList"]] == [s["diaSourceId"] for s in detections(alert)]

        # sherlock: from the context rows
        ContextStore().put_rows("sherlock_classifications", [
            {"diaObjectId": object_id, "classification": "SN", "description": "beside a galaxy"}])
        assert client.sherlock_object(object_id)["classifications"] == {str(object_id): ["SN", "beside a galaxy"]}
        near = client.sherlock_position(*positions[object_id])
        assert near["classifications"] == {str(object_id): ["SN", "beside a galaxy"]}

        # annotate and annotate_list: readable, and an on-annotation filter fires
        saved = api_call(port, "POST", "/filters", token, {
            "name": "annotated SN", "selected": "objects.diaObjectId, myclassifier.classification",
            "tables": "objects, annotator:myclassifier", "conditions": "myclassifier.classification = 'SN'",
            "on_annotation": True, "output": "kafka_plain"})
        result = client.annotate("myclassifier", object_id, "SN", classdict={"prob": 0.97}, url="https://e.org/1")
        assert result["status"] == "success"
        fired = read_topic(stack.bootstrap, saved["topic"], expected=1, timeout=30)
        assert [json.loads(r.value)["diaObjectId"] for r in fired] == [object_id]
        shown = api_call(port, "GET", f"/objects/{object_id}/annotations", token)["annotations"]
        assert [(a["classification"], json.loads(a["classdict"])) for a in shown] == [("SN", {"prob": 0.97})]
        others = ids[:2]
        assert client.annotate_list([{"topic": "myclassifier", "objectId": i, "classification": "AGN",
                                      "classdict": {"rank": n}} for n, i in enumerate(others)]) == {
            "status": "success", "n": 2}
        for n, i in enumerate(others):
            (latest,) = api_call(port, "GET", f"/objects/{i}/annotations", token)["annotations"]
            assert latest["classification"] == "AGN" and json.loads(latest["classdict"]) == {"rank": n}

        # a key over its tier's hourly calls (anonymous: 10, Lasair's number) gets 429 and the client says so
        public = lasair.lasair_client(public_key, endpoint=f"http://127.0.0.1:{port}/api")
        for _ in range(10):
            public.cone(0.0, 0.0, 1.0)
        with pytest.raises(lasair.LasairError) as refused:
            public.cone(0.0, 0.0, 1.0)
        assert refused.value.message.startswith("Request limit exceeded")
        assert math.isfinite(client.cone(0.0, 0.0, 1.0)["count"])  # another key's hour is its own
    finally:
        host.stop()
