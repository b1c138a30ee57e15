"""The function host killed with SIGKILL at random points of a 2,000-alert replay (once inside the first
batch's output, once anywhere after), each time restarted with `skystream restart functions`, loses no
alert: every diaSourceId reaches alerts-enriched and every object a match-everything filter's topic. Duplicates (the batches in flight at the kill) are counted
and reported, and allowed: the pipeline is at-least-once.

The host is the real detached process `skystream up --detach` starts (here against the session's
broker and endpoint, named by KAFKA_BOOTSTRAP_SERVERS / AWS_ENDPOINT_URL), with the template's own
consumer groups, so the restart resumes from whatever the killed host committed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from skystream.alerts.wire import encode_alert
from skystream.devtools.generator import generate_alerts
from skystream.domain.filters import FilterSpec
from skystream.local.kafka_config import client_config
from skystream.local.processes import free_port, pid_alive
from skystream.local.testing import EphemeralStack, produce
from skystream.storage.users import UserStore
from skystream.wiring.api import filter_service

TOTAL = 2000
CLI = [sys.executable, "-m", "skystream.cli"]


def _small_alerts(seed: int) -> list[dict[str, Any]]:
    """2,000 schema-valid alerts of distinct objects, kept small: 3 detections, 3 forced sources."""
    alerts = generate_alerts(TOTAL, seed=seed, detections=3)
    for alert in alerts:
        alert["prvDiaForcedSources"] = (alert["prvDiaForcedSources"] or [])[-3:]
    return alerts


class DistinctReader(threading.Thread):
    """Reads a topic from the beginning for the whole test, counting each id ``id_of`` finds."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, id_of: Callable[[bytes], int]):
        super().__init__(daemon=True)
        self.consumer = Consumer(client_config(bootstrap, **{"group.id": f"reader-{topic}",
                                                             "enable.auto.commit": False}))
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        self.id_of = id_of
        self.counts: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for message in self.consumer.consume(num_messages=500, timeout=0.1):
                if message.error() is None:
                    with self.lock:
                        self.counts[self.id_of(message.value())] += 1

    def distinct(self) -> int:
        with self.lock:
            return len(self.counts)

    def wait_for(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.distinct() < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.distinct() >= n

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        self.consumer.close()


def _functions_pid(state_dir: Path) -> int:
    return int(json.loads((state_dir / "stack.json").read_text())["pids"]["functions"])


def _run(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_a_function_host_killed_at_random_points_and_restarted_loses_no_alert(
        stack: EphemeralStack, tmp_path: Path, record_property: Any) -> None:
    rng = random.Random()
    seed = rng.randrange(10_000)
    alerts = _small_alerts(seed)
    source_ids = {a["diaSourceId"] for a in alerts}
    object_ids = {a["diaObject"]["diaObjectId"] for a in alerts}
    assert len(source_ids) == len(object_ids) == TOTAL

    user, _token = UserStore().add("Crash Test", "crash@example.org")
    saved = filter_service().create(user, FilterSpec(
        name="everything", selected="objects.diaObjectId", tables="objects", on_alert=True, output="kafka_plain"))
    topics = {t.name: t.partitions for t in stack.template.topics}
    enriched_topic, alerts_topic = os.environ["TOPIC_ENRICHED"], os.environ["TOPIC_ALERTS"]
    enriched = DistinctReader(stack.bootstrap, enriched_topic, topics[enriched_topic],
                              lambda v: orjson.loads(v)["objects"]["diaObjectId"])  # one alert per object
    matched = DistinctReader(stack.bootstrap, saved.topic, 1, lambda v: orjson.loads(v)["diaObjectId"])

    env = {**os.environ, "SKYSTREAM_STATE_DIR": str(tmp_path)}
    started = _run("up", "--detach", "--api-port", str(free_port()), env=env, timeout=180)
    assert started.returncode == 0, started.stderr
    kills: list[str] = []

    def kill_and_restart(kill_at: int) -> None:
        """SIGKILL the host once ``kill_at`` alerts are enriched, then `skystream restart functions`."""
        killed = _functions_pid(tmp_path)
        assert enriched.wait_for(kill_at, timeout=120), f"the host never enriched {kill_at} alerts"
        os.kill(killed, signal.SIGKILL)
        kills.append(f"at {enriched.distinct()} enriched / {matched.distinct()} matched (aimed at {kill_at})")
        deadline = time.monotonic() + 10
        while pid_alive(killed) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(killed)
        status = _run("status", env=env, timeout=60)
        assert status.returncode == 1 and "`skystream restart functions`" in status.stdout, status.stdout
        restarted = _run("restart", "functions", env=env, timeout=180)
        assert restarted.returncode == 0, restarted.stderr
        assert _functions_pid(tmp_path) != killed and pid_alive(_functions_pid(tmp_path))

    enriched.start()
    matched.start()
    try:
        produce(stack.bootstrap, alerts_topic, [encode_alert(a) for a in alerts])
        # First at a random point of the first ingest batch's output, before the matcher can have
        # committed anything (where the old runner skipped records); then anywhere in the rest.
        kill_and_restart(rng.randint(1, 500))
        if enriched.distinct() < TOTAL - 1:
            kill_and_restart(rng.randint(enriched.distinct() + 1, TOTAL - 1))
        enriched.wait_for(TOTAL, timeout=90)
        matched.wait_for(TOTAL, timeout=60)

        # A host that is alive is stopped cleanly (SIGTERM) and replaced; the new one serves the API.
        running = _functions_pid(tmp_path)
        again = _run("restart", "functions", env=env, timeout=180)
        assert again.returncode == 0 and f"stopped  functions (pid {running})" in again.stdout, again.stderr
        assert not pid_alive(running) and pid_alive(_functions_pid(tmp_path))
        api_url = json.loads((tmp_path / "stack.json").read_text())["api_url"]
        with urllib.request.urlopen(f"{api_url}/health", timeout=10) as response:
            assert response.status == 200
    finally:
        enriched.stop()
        matched.stop()
        _run("down", env=env, timeout=60)

    lost_enriched = object_ids - set(enriched.counts)  # an enriched record no longer carries diaSourceId:
    # each alert is of its own object (asserted above), so its diaObjectId names it as well
    lost_matched = object_ids - set(matched.counts)
    duplicates = {"enriched": sum(n - 1 for n in enriched.counts.values()),
                  "matched": sum(n - 1 for n in matched.counts.values())}
    print(f"\nfunction host (alerts seed {seed}) SIGKILLed {'; '.join(kills)}; after the restarts: "
          f"{len(enriched.counts)} distinct enriched, {len(matched.counts)} distinct matched; lost {len(lost_enriched)} / {len(lost_matched)}; "
          f"duplicates {duplicates}")
    record_property("crash_duplicates_enriched", duplicates["enriched"])
    record_property("crash_duplicates_matched", duplicates["matched"])
    record_property("crash_lost", len(lost_enriched) + len(lost_matched))
    assert not lost_enriched, f"{len(lost_enriched)} alerts never reached {enriched_topic}"
    assert not lost_matched, f"{len(lost_matched)} objects never reached the filter's topic {saved.topic}"
    assert set(enriched.counts) == object_ids and set(matched.counts) == object_ids
    # Each group's start was decided (and logged, one line a partition) once, by the first host:
    # the restarted hosts resumed from committed offsets instead of deciding again.
    log = (tmp_path / "logs" / "functions.log").read_text()
    for group, topic in (("skystream-ingest", alerts_topic), ("skystream-matcher", enriched_topic),
                         ("skystream-annotations", os.environ["TOPIC_ANNOTATIONS"])):
        starts = [line for line in log.splitlines() if f"group {group} partition {topic}[" in line]
        assert len(starts) == topics[topic], starts
        assert all("starts at offset 0, committed before its first batch" in line for line in starts), starts
