"""Watchmaps on the local stack (issue 19): created with the command line through the HTTP API, joined by a
Kafka filter saved through the API, matched as alerts are replayed through ingest and the matcher.

Real parts: tansu, moto's server, the functions hosted from the template, the HTTP API on a loopback port, the
``skystream watchmap`` command unchanged. Which objects the MOC contains is computed here from the generated
alerts' positions with the ``healpix`` package (each position's cell at the MOC's two depths), not by
skystream's MOC ranges.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import healpix
import pytest
from test_cli_streams import command_output

from skystream.alerts.wire import encode_alert
from skystream.cli import main
from skystream.clients.api import ApiClient, ApiError
from skystream.devtools.generator import generate_alerts
from skystream.local.lag import wait_caught_up
from skystream.local.processes import free_port
from skystream.local.testing import EphemeralStack, produce, read_topic
from skystream.storage.users import UserStore


def cli(capsys: pytest.CaptureFixture[str], url: str, token: str, *args: str) -> str:
    """Run ``skystream watchmap ...`` as a user would; what it printed."""
    capsys.readouterr()
    assert main(["watchmap", "--api", url, "--token", token, *args]) == 0
    return command_output(capsys.readouterr().out)


def cell(ra: float, dec: float, depth: int) -> int:
    return int(healpix.ang2pix(2**depth, ra % 360.0, dec, nest=True, lonlat=True))


def test_a_watchmap_filter_streams_exactly_the_objects_the_moc_contains(
        stack: EphemeralStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    host = stack.host(only={"ingest_handler", "filter_matcher", "filter_api"}, api_port=port,
                      batching_window_s=0.1).start()
    try:
        url = f"http://127.0.0.1:{port}"
        _ada, ada_token = UserStore().add("Ada", "ada@example.org")
        _bob, bob_token = UserStore().add("Bob", "bob@example.org")
        api, bob = ApiClient(url, ada_token), ApiClient(url, bob_token)
        alerts = generate_alerts(60, seed=23)
        positions = {a["diaObject"]["diaObjectId"]: (a["diaObject"]["ra"], a["diaObject"]["dec"]) for a in alerts}
        # the depth-5 cells of the first 12 alerts and the depth-9 cells of the next 12: a footprint of two depths
        coarse = sorted({cell(a["diaObject"]["ra"], a["diaObject"]["dec"], 5) for a in alerts[:12]})
        fine = sorted({cell(a["diaObject"]["ra"], a["diaObject"]["dec"], 9) for a in alerts[12:24]})
        (tmp_path / "footprint.moc").write_text(f"5/{' '.join(map(str, coarse))}\n9/{' '.join(map(str, fine))}\n")

        shown = cli(capsys, url, ada_token, "create", str(tmp_path / "footprint.moc"), "--name", "my footprint")
        found = re.search(r"^watchmap (\d+) ", shown, flags=re.M)
        assert found, shown
        ar_id = int(found.group(1))
        assert f"watchmap:{ar_id}" in shown and "to depth 9" in shown
        assert "my footprint" in cli(capsys, url, ada_token, "list")
        exported = cli(capsys, url, ada_token, "export", str(ar_id)).strip().splitlines()[-1]
        assert exported.startswith("5/") and " 9/" in exported
        theirs = bob.post("/watchmaps", {"name": "bob's secret", "moc": exported})["ar_id"]

        body = {"name": "inside", "selected": "objects.diaObjectId, area_hits.ar_id",
                "tables": f"objects, watchmap:{ar_id}", "conditions": "", "on_alert": True, "output": "kafka_plain"}
        topic = api.post("/filters", body)["topic"]
        for tables, missing in ((f"objects, watchmap:{theirs}", theirs), ("objects, area:999", 999)):
            with pytest.raises(ApiError) as refused:
                api.post("/filters", {**body, "name": f"refused {missing}", "tables": tables})
            assert refused.value.status == 404 and refused.value.body["detail"].startswith(f"no watchmap {missing}:")

        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(a) for a in alerts])
        wait_caught_up(stack.bootstrap, host.runners["ingest_handler"].group_id, os.environ["TOPIC_ALERTS"])
        wait_caught_up(stack.bootstrap, host.runners["filter_matcher"].group_id, os.environ["TOPIC_ENRICHED"])

        expected = {oid for oid, (ra, dec) in positions.items()
                    if cell(ra, dec, 5) in set(coarse) or cell(ra, dec, 9) in set(fine)}
        assert 24 <= len(expected) < len(positions)
        records = [json.loads(r.value) for r in read_topic(stack.bootstrap, topic, expected=len(expected), idle=2.0)]
        assert sorted(r["diaObjectId"] for r in records) == sorted(expected)
        assert all(r["ar_id"] == ar_id and set(r) == {"diaObjectId", "ar_id", "UTC"} for r in records)

        # the rerun over the stored objects (the objects' sky index) finds the same objects, through the CLI
        printed = cli(capsys, url, ada_token, "rerun", str(ar_id))
        assert sorted(int(m[1]) for m in re.finditer(r"^(\d+)$", printed, flags=re.M)) == sorted(expected), printed
        assert f"{len(expected)} hit(s) among" in printed
        with pytest.raises(ApiError) as hidden:
            bob.post(f"/watchmaps/{ar_id}/rerun")
        assert hidden.value.status == 404 and hidden.value.body["detail"].startswith(f"no watchmap {ar_id}:")

        with pytest.raises(ApiError) as hidden:
            api.get(f"/watchmaps/{theirs}")
        assert hidden.value.status == 404 and hidden.value.body["detail"].startswith(f"no watchmap {theirs}:")
        assert f"deleted watchmap {ar_id}" in cli(capsys, url, ada_token, "delete", str(ar_id)).splitlines()
        with pytest.raises(ApiError) as gone:
            api.get(f"/watchmaps/{ar_id}")
        assert gone.value.status == 404
    finally:
        host.stop()
