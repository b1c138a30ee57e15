"""Watchlists on the local stack (issue 19): created with the command line through the HTTP API, joined by a
Kafka filter saved through the API, matched as alerts are replayed through ingest and the matcher.

Real parts: tansu behind its SCRAM front door, moto's server, the functions hosted from the template, the HTTP
API on a loopback port, the ``skystream watchlist`` command unchanged. Which objects lie within which source's
radius is computed here with astropy from the generated alerts' positions, not by skystream's crossmatch.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from test_cli_streams import command_output

from skystream.alerts.wire import encode_alert
from skystream.cli import main
from skystream.clients.api import ApiClient, ApiError
from skystream.devtools.generator import generate_alerts
from skystream.local.lag import wait_caught_up
from skystream.local.processes import free_port
from skystream.local.testing import EphemeralStack, produce, read_topic
from skystream.storage.users import UserStore

RADII = (1.0, 4.0, 30.0, 300.0, 1800.0)


def cli(capsys: pytest.CaptureFixture[str], url: str, token: str, *args: str) -> str:
    """Run ``skystream watchlist ...`` as a user would; what it printed."""
    capsys.readouterr()
    assert main(["watchlist", "--api", url, "--token", token, *args]) == 0
    return command_output(capsys.readouterr().out)


def sources_for(alerts: list[dict[str, Any]], rng: random.Random) -> tuple[str, list[tuple[str, float, float, float]]]:
    """Sources beside some alerts' positions: inside their radius (half of it) or outside it (decoys at 1.3x),
    plus a few far from every alert. The text to upload, and (name, ra, dec, radius) of each source."""
    sources: list[tuple[str, float, float, float]] = []
    for k, alert in enumerate(alerts[:24]):
        radius = RADII[k % len(RADII)]
        factor = 0.5 if k % 3 else 1.3
        centre = SkyCoord(alert["diaObject"]["ra"] * u.deg, alert["diaObject"]["dec"] * u.deg)
        p = centre.directional_offset_by(rng.uniform(0, 360) * u.deg, radius * factor * u.arcsec)
        sources.append((f"src {k}{' decoy' if factor > 1 else ''}", float(p.ra.deg), float(p.dec.deg), radius))
    sources += [(f"far {k}", rng.uniform(0, 360), rng.uniform(-89, 89), 2.0) for k in range(20)]
    text = "RA | Dec | name | radius\n" + "".join(f"{ra!r} | {dec!r} | {name} | {r}\n" for name, ra, dec, r in sources)
    return text, sources


def test_a_watchlist_filter_streams_exactly_the_objects_within_the_radii(
        stack: EphemeralStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    host = stack.host(only={"ingest_handler", "filter_matcher", "filter_api"}, api_port=port,
                      batching_window_s=0.1).start()
    try:
        url = f"http://127.0.0.1:{port}"
        _ada, ada_token = UserStore().add("Ada", "ada@example.org")
        _bob, bob_token = UserStore().add("Bob", "bob@example.org")
        api, bob = ApiClient(url, ada_token), ApiClient(url, bob_token)
        alerts = generate_alerts(60, seed=19)
        text, sources = sources_for(alerts, random.Random(19))
        (tmp_path / "cvs.txt").write_text(text)

        shown = cli(capsys, url, ada_token, "create", str(tmp_path / "cvs.txt"), "--name", "near my alerts")
        found = re.search(r"^watchlist (\d+) ", shown, flags=re.M)
        assert found, shown
        wl_id = int(found.group(1))
        assert f"{len(sources)} source(s)" in shown and f"watchlist:{wl_id}" in shown
        assert "near my alerts" in cli(capsys, url, ada_token, "list")
        exported = cli(capsys, url, ada_token, "export", str(wl_id)).splitlines()
        assert exported[exported.index("ra, dec, name, radius") + 1].startswith(repr(sources[0][1])), exported[:3]
        theirs = bob.post("/watchlists", {"name": "bob's secret", "text": text})["wl_id"]

        body = {"name": "near", "selected": "objects.diaObjectId, watchlist_hits.name, watchlist_hits.arcsec",
                "tables": f"objects, watchlist:{wl_id}", "conditions": "", "on_alert": True, "output": "kafka_plain"}
        saved = api.post("/filters", body)
        topic = saved["topic"]
        with pytest.raises(ApiError) as refused:
            api.post("/filters", {**body, "name": "not mine", "tables": f"objects, watchlist:{theirs}"})
        assert refused.value.status == 404 and refused.value.body["detail"].startswith(f"no watchlist {theirs}:")
        with pytest.raises(ApiError) as missing:
            api.post("/filters", {**body, "name": "nowhere", "tables": "objects, watchlist:999"})
        assert missing.value.status == 404 and missing.value.body["detail"].startswith("no watchlist 999:")

        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(a) for a in alerts])
        wait_caught_up(stack.bootstrap, host.runners["ingest_handler"].group_id, os.environ["TOPIC_ALERTS"])
        wait_caught_up(stack.bootstrap, host.runners["filter_matcher"].group_id, os.environ["TOPIC_ENRICHED"])

        points = SkyCoord(np.array([a["diaObject"]["ra"] for a in alerts]) * u.deg,
                          np.array([a["diaObject"]["dec"] for a in alerts]) * u.deg)
        expected: dict[tuple[int, str], float] = {}
        for name, ra, dec, radius in sources:
            separations = points.separation(SkyCoord(ra * u.deg, dec * u.deg)).arcsec
            for k in np.nonzero(separations <= radius)[0].tolist():
                expected[(alerts[k]["diaObject"]["diaObjectId"], name)] = float(separations[k])
        assert len(expected) >= 10 and not any("decoy" in name or "far" in name for _, name in expected)

        records = [json.loads(r.value) for r in read_topic(stack.bootstrap, topic, expected=len(expected), idle=2.0)]
        got = {(r["diaObjectId"], r["name"]): r["arcsec"] for r in records}
        assert len(records) == len(got) == len(expected)
        assert set(got) == set(expected)
        for key, arcsec in expected.items():
            assert got[key] == pytest.approx(arcsec, abs=1e-4)
        assert all(set(r) == {"diaObjectId", "name", "arcsec", "UTC"} for r in records)

        # the rerun over the stored objects (the objects' sky index) finds the same hits, through the CLI
        printed = cli(capsys, url, ada_token, "rerun", str(wl_id))
        rerun = {(int(m[1]), m[2]): float(m[3]) for m in re.finditer(r'^(\d+)  (.*)  ([\d.]+)"$', printed, flags=re.M)}
        assert set(rerun) == set(expected), printed
        assert all(rerun[key] == pytest.approx(arcsec, abs=2e-3) for key, arcsec in expected.items())
        assert f"{len(expected)} hit(s) among" in printed and "index Queries" in printed

        assert f"deleted watchlist {wl_id}" in cli(capsys, url, ada_token, "delete", str(wl_id)).splitlines()
        with pytest.raises(ApiError) as gone:
            api.get(f"/watchlists/{wl_id}")
        assert gone.value.status == 404
    finally:
        host.stop()
