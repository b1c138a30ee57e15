"""The local stack as a user meets it: resources from the template, the pipeline end to end,
the HTTP API, and `skystream up/down` leaving nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import localstack_client.session
import pytest

from skystream.alerts.wire import encode_alert
from skystream.aws import client
from skystream.devtools.generator import generate_alerts
from skystream.domain.filters import FilterSpec
from skystream.local.handlers import template_path
from skystream.local.processes import free_port, pid_alive
from skystream.local.template import load_yaml
from skystream.local.testing import EphemeralStack, produce, read_topic
from skystream.storage.users import UserStore
from skystream.streams.admin import TopicAdmin
from skystream.wiring.api import filter_service


def test_the_stack_holds_exactly_what_the_template_declares(stack: EphemeralStack) -> None:
    raw = load_yaml(template_path())
    declared_tables = [k for k, v in raw["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"]
    declared_buckets = [k for k, v in raw["Resources"].items() if v["Type"] == "AWS::S3::Bucket"]
    declared_topics = {t["Name"] for t in raw["Metadata"]["Skystream::KafkaTopics"]}
    tables = client("dynamodb").list_tables()["TableNames"]
    assert len(tables) == len(declared_tables) == len(set(tables))
    assert sorted(tables) == sorted(stack.template.tables)
    buckets = [b["Name"] for b in client("s3").list_buckets()["Buckets"]]
    assert len(buckets) == len(declared_buckets)
    assert TopicAdmin().list_topics() == declared_topics
    # Keys and indexes come from the template, not from code.
    objects = client("dynamodb").describe_table(TableName=os.environ["OBJECTS_TABLE"])["Table"]
    assert {i["IndexName"] for i in objects.get("GlobalSecondaryIndexes", [])} == {"by-night", "by-sky"}  # by-sky: issue 18
    projections = {i["IndexName"]: i["Projection"]["ProjectionType"] for i in objects["GlobalSecondaryIndexes"]}
    assert projections["by-sky"] == "KEYS_ONLY"  # a moving ra/decl must not rewrite the index (domain/sky.py)
    digest_ttl = client("dynamodb").describe_time_to_live(TableName=os.environ["DIGEST_TABLE"])
    assert digest_ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_localstack_client_reaches_the_local_endpoint(stack: EphemeralStack) -> None:
    host = stack.endpoint.removeprefix("http://")
    session = localstack_client.session.Session(localstack_host=host)
    names = session.client("dynamodb").list_tables()["TableNames"]
    assert os.environ["FILTERS_TABLE"] in names


def test_a_generated_alert_flows_through_ingest_and_matcher_to_a_users_filter_topic(stack: EphemeralStack) -> None:
    alerts = generate_alerts(3, seed=11)
    ids = sorted(a["diaObject"]["diaObjectId"] for a in alerts)
    user, _token = UserStore().add("Ada", "ada@example.org")
    saved = filter_service().create(user, FilterSpec(
        name="everything", selected="objects.diaObjectId, objects.decl", tables="objects",
        on_alert=True, output="kafka_plain"))
    assert saved.topic == f"lasair_{user.user_id}everything" and saved.reseeded == 0
    host = stack.host(only={"ingest_handler", "filter_matcher"}, batching_window_s=0.1).start()
    try:
        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(a) for a in alerts])
        records = read_topic(stack.bootstrap, saved.topic, expected=3, timeout=60)
    finally:
        host.stop()
    assert sorted(json.loads(r.value)["diaObjectId"] for r in records) == ids
    assert {r.key for r in records} == {str(i).encode() for i in ids}
    decl = {a["diaObject"]["diaObjectId"]: a["diaObject"]["dec"] for a in alerts}
    assert all(json.loads(r.value)["decl"] == decl[json.loads(r.value)["diaObjectId"]] for r in records)


def test_http_api_turns_requests_into_lambda_events(stack: EphemeralStack) -> None:
    port = free_port()
    host = stack.host(only={"filter_api"}, api_port=port).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            assert response.status == 200
            assert json.load(response) == {"status": "ok"}
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-route", timeout=10)
        assert missing.value.code == 404
    finally:
        host.stop()


def test_skystream_up_and_down_leave_no_process_behind(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"KAFKA_BOOTSTRAP_SERVERS", "AWS_ENDPOINT_URL"}}
    env["SKYSTREAM_STATE_DIR"] = str(tmp_path)
    ports = [str(free_port()) for _ in range(3)]
    cli = [sys.executable, "-m", "skystream.cli"]
    up = subprocess.run(
        [*cli, "up", "--detach", "--kafka-port", ports[0], "--aws-port", ports[1], "--api-port", ports[2]],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert up.returncode == 0, up.stderr
    page = f"http://127.0.0.1:{ports[2]}/web/"
    assert f"page     {page}" in up.stdout  # where to open the web page
    with urllib.request.urlopen(page, timeout=10) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
    state = json.loads((tmp_path / "stack.json").read_text())
    pids = state["pids"]
    assert set(pids) == {"kafka", "kafka_front", "aws", "functions"} and all(pid_alive(p) for p in pids.values())
    status = subprocess.run([*cli, "status", "--json"], env=env, capture_output=True, text=True, timeout=30)
    assert json.loads(status.stdout)["running"] is True
    status = subprocess.run([*cli, "status"], env=env, capture_output=True, text=True, timeout=30)
    assert f"page       {page}" in status.stdout
    with urllib.request.urlopen(f"http://127.0.0.1:{ports[2]}/health", timeout=10) as response:
        assert response.status == 200
    down = subprocess.run([*cli, "down"], env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and "functions, kafka_front, kafka, aws" in down.stdout
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(p) for p in pids.values())
    assert not (tmp_path / "stack.json").exists()


def test_ctrl_c_on_a_foreground_stack_stops_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"KAFKA_BOOTSTRAP_SERVERS", "AWS_ENDPOINT_URL"}}
    env["SKYSTREAM_STATE_DIR"] = str(tmp_path)
    ports = [str(free_port()) for _ in range(3)]
    process = subprocess.Popen(
        [sys.executable, "-m", "skystream.cli", "up", "--kafka-port", ports[0], "--aws-port", ports[1],
         "--api-port", ports[2]],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "functions.ready").exists() and time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        time.sleep(0.1)
    pids = json.loads((tmp_path / "stack.json").read_text())["pids"]
    assert set(pids) == {"kafka", "kafka_front", "aws"}
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "stopped: kafka_front, kafka, aws" in output
    assert not any(pid_alive(p) for p in pids.values())


def test_a_killed_test_run_takes_its_broker_and_endpoint_with_it(tmp_path: Path) -> None:
    """SIGKILL (a CI timeout, a crashed pytest) gives no chance to clean up: the children must go by themselves."""
    env = {k: v for k, v in os.environ.items() if k not in {"KAFKA_BOOTSTRAP_SERVERS", "AWS_ENDPOINT_URL"}}
    script = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from skystream.local.testing import EphemeralStack\n"
        f"stack = EphemeralStack(Path({str(tmp_path)!r})).start()\n"
        "print(json.dumps([p.pid for p in stack._processes]), flush=True)\n"
        "time.sleep(600)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    pids = json.loads(process.stdout.readline())
    assert len(pids) == 3 and all(pid_alive(p) for p in pids)  # the front door, tansu, moto
    process.kill()
    process.wait(10)
    deadline = time.monotonic() + 15
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(p) for p in pids)
