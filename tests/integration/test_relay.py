"""The relay copies a stream byte for byte, at least once: killed (SIGKILL) halfway and restarted,
it loses nothing; the duplicates a crash can cause are counted and reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from typing import Any

import confluent_kafka

from skystream.local.kafka_config import client_config
from skystream.local.provision import FUNCTIONS_SECRET
from skystream.local.testing import EphemeralStack, read_topic
from skystream.streams.admin import TopicAdmin

TOTAL = 10_000
BATCH = 200


def _produce_upstream(bootstrap: str, topic: str) -> dict[bytes, tuple[bytes, list[tuple[str, bytes]], int]]:
    """10,000 records with binary values, headers and explicit timestamps; returns key -> (value, headers, ts)."""
    producer = confluent_kafka.Producer(client_config(bootstrap, **{"enable.idempotence": True, "linger.ms": 20}))
    sent: dict[bytes, tuple[bytes, list[tuple[str, bytes]], int]] = {}
    base_ms = 1_760_000_000_000
    for i in range(TOTAL):
        key = b"%08d" % i
        value = b"\x00\x00\x00\x04\x4d" + i.to_bytes(4, "big") + bytes(range(256))[i % 200 :]  # wire-format-like
        headers = [("source", b"rubin"), ("seq", str(i).encode())]
        timestamp = base_ms + i
        producer.produce(topic, value=value, key=key, headers=headers, timestamp=timestamp)
        sent[key] = (value, headers, timestamp)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return sent


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """Records the group has committed (offsets start at 0 on a fresh topic)."""
    consumer = confluent_kafka.Consumer(client_config(bootstrap, **{"group.id": group}))
    try:
        offsets = consumer.committed([confluent_kafka.TopicPartition(topic, p) for p in range(partitions)], timeout=15)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in offsets)


def _relay(bootstrap: str, source: str, target: str, group: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "skystream.cli", "relay", "--from", bootstrap, "--topic", source,
         # upstream: the local broker, logged in with the functions' secret; target: the functions' settings
         "--from-secret-arn", FUNCTIONS_SECRET, "--from-security-protocol", "SASL_PLAINTEXT",
         "--to", bootstrap, "--to-topic", target, "--group", group,
         "--batch-size", str(BATCH), "--session-timeout-ms", "6000", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )


def test_relay_killed_halfway_and_restarted_loses_nothing(stack: EphemeralStack, record_property: Any) -> None:
    source = f"lsst-alerts-v11-{uuid.uuid4().hex[:6]}"
    target = os.environ["TOPIC_ALERTS"]
    TopicAdmin().create([source], partitions=3)
    sent = _produce_upstream(stack.bootstrap, source)
    group = f"relay-{uuid.uuid4().hex[:6]}"

    # First run: watch its per-batch progress and SIGKILL it once about half is copied.
    first = _relay(stack.bootstrap, source, target, group, "--progress-every", "0.000001")
    copied_before_kill = 0
    deadline = time.monotonic() + 60
    assert first.stderr is not None
    while time.monotonic() < deadline:
        line = first.stderr.readline()
        if not line:
            break
        if line.startswith('{"progress"'):
            copied_before_kill = json.loads(line)["progress"]["produced"]
            if copied_before_kill >= TOTAL // 2:
                time.sleep(0.015)  # land inside the next batch, between its produce and its commit if we can
                first.send_signal(signal.SIGKILL)
                break
    first.wait(10)
    assert first.returncode == -signal.SIGKILL, "the relay finished before it could be killed halfway"

    # Exact accounting at the kill: what the group committed, and what the target already holds.
    committed = _committed(stack.bootstrap, group, source, partitions=3)
    copied_uncommitted = len(read_topic(stack.bootstrap, target, expected=None, timeout=60, idle=2)) - committed
    assert TOTAL // 2 <= committed < TOTAL and copied_before_kill <= committed
    assert 0 <= copied_uncommitted <= BATCH  # at most the batch in flight was copied but not committed

    # Second run resumes from the committed offsets and stops once the upstream is drained.
    second = _relay(stack.bootstrap, source, target, group, "--idle-exit", "4", "--progress-every", "0")
    out, err = second.communicate(timeout=90)
    assert second.returncode == 0, err
    resumed = json.loads(out.strip().splitlines()[-1])

    copies = read_topic(stack.bootstrap, target, expected=None, timeout=60, idle=3)
    counts = Counter(r.key for r in copies)
    missing = set(sent) - set(counts)
    duplicates = sum(n - 1 for n in counts.values())
    print(f"\nrelay: SIGKILL after {committed} committed ({copied_uncommitted} more copied, uncommitted); "
          f"the restart copied {resumed['produced']}; target holds {len(copies)} records, {len(counts)} distinct, "
          f"{duplicates} duplicates, {len(missing)} missing")
    record_property("relay_duplicates", duplicates)  # in the JUnit report (pytest --junitxml)
    record_property("relay_missing", len(missing))

    assert not missing, f"{len(missing)} records lost"
    assert set(counts) == set(sent)
    assert resumed["produced"] == TOTAL - committed  # the restart starts exactly at the committed offsets
    assert duplicates == copied_uncommitted  # the only duplicates: the batch copied but not committed
    assert len(copies) == TOTAL + duplicates
    # Byte for byte: value, headers and timestamp as upstream.
    for record in copies:
        value, headers, timestamp = sent[record.key]
        assert record.value == value
        assert record.headers == dict(headers)
        assert record.timestamp_ms == timestamp


def test_sigterm_finishes_the_batch_commits_and_reports(stack: EphemeralStack) -> None:
    """ECS stops a task with SIGTERM: the relay exits 0 with its counts, and a successor copies only the rest."""
    source = f"upstream-{uuid.uuid4().hex[:6]}"
    target = f"copy-{uuid.uuid4().hex[:6]}"
    TopicAdmin().create([source, target], partitions=2)
    sent = _produce_upstream(stack.bootstrap, source)
    group = f"relay-{uuid.uuid4().hex[:6]}"
    first = _relay(stack.bootstrap, source, target, group, "--progress-every", "0.000001")
    assert first.stderr is not None
    while True:
        line = first.stderr.readline()
        assert line, "the relay ended before reporting progress"
        if line.startswith('{"progress"') and json.loads(line)["progress"]["produced"] >= 2000:
            first.send_signal(signal.SIGTERM)
            break
    out, _ = first.communicate(timeout=30)
    assert first.returncode == 0
    stopped = json.loads(out.strip().splitlines()[-1])
    assert stopped["produced"] == stopped["committed"] < TOTAL
    second = _relay(stack.bootstrap, source, target, group, "--idle-exit", "3", "--progress-every", "0")
    out, err = second.communicate(timeout=90)
    assert second.returncode == 0, err
    rest = json.loads(out.strip().splitlines()[-1])
    assert stopped["produced"] + rest["produced"] == TOTAL  # a clean stop repeats nothing
    copies = read_topic(stack.bootstrap, target, expected=TOTAL, timeout=60)
    assert sorted(r.key for r in copies) == sorted(sent)
