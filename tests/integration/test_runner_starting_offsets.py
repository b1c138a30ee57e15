"""A runner's first start on a partition is committed before its first batch, so a runner stopped
(or killed) inside that batch is succeeded by one that starts at the same place, never at a newer
"latest" past records nobody processed. The decision is logged, one line per partition."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from skystream.local.esm import EventSourceRunner
from skystream.local.kafka_config import client_config
from skystream.local.template import KafkaEventSource
from skystream.local.testing import EphemeralStack, produce
from skystream.streams.admin import TopicAdmin
from skystream.streams.lambda_event import records_from_event


class Handler:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.calls = 0
        self.seen: list[bytes] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.calls += 1
        if self.fail:
            raise RuntimeError("simulated crash inside the first batch")
        self.seen.extend(r.value for r in records_from_event(event))


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> list[int]:
    consumer = Consumer(client_config(bootstrap, **{"group.id": group}))
    try:
        return [tp.offset for tp in consumer.committed([TopicPartition(topic, p) for p in range(partitions)],
                                                        timeout=15)]
    finally:
        consumer.close()


@pytest.mark.parametrize("start", ["LATEST", "TRIM_HORIZON"])
def test_a_group_stopped_inside_its_first_batch_resumes_at_that_batch(
        stack: EphemeralStack, caplog: pytest.LogCaptureFixture, start: str) -> None:
    caplog.set_level(logging.INFO, logger="skystream.local.esm")
    topic = f"first-batch-{uuid.uuid4().hex[:8]}"
    TopicAdmin().create([topic], partitions=2)
    source = KafkaEventSource(function="FirstBatch", topics=[topic], batch_size=100, batching_window_s=0.2,
                              starting_position=start, consumer_group_id=f"first-{uuid.uuid4().hex[:8]}",
                              event_source="aws:kafka")
    crashing = Handler(fail=True)
    runner = EventSourceRunner(source, crashing, bootstrap_servers=stack.bootstrap, kafka_config=stack.client_config(),
                               backoff_initial_s=0.05).start()
    values = [f"r{i}".encode() for i in range(10)]
    try:
        # The start is committed at assignment, before any record exists or is handed over.
        committed_at_start = _committed(stack.bootstrap, source.consumer_group_id, topic, 2)
        produce(stack.bootstrap, topic, values, keys=[str(i).encode() for i in range(10)])
        deadline = time.monotonic() + 30
        while crashing.calls < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()  # inside its first batch: the batch commits nothing
    assert crashing.calls >= 1 and not crashing.seen

    healthy = Handler()
    restarted = EventSourceRunner(source, healthy, bootstrap_servers=stack.bootstrap, kafka_config=stack.client_config())
    try:
        deadline = time.monotonic() + 20
        while len(healthy.seen) < len(values) and time.monotonic() < deadline:
            restarted.run_once(idle_timeout=0.5)
    finally:
        restarted.stop()
    assert sorted(healthy.seen) == sorted(values), "the restarted runner skipped records nobody processed"
    assert committed_at_start == [0, 0]  # committed at assignment, before any record existed

    lines = [r.getMessage() for r in caplog.records if "starts at offset" in r.getMessage()]
    assert len(lines) == 2, lines  # one per partition, and only at the first start: the restart resumed
    for partition in (0, 1):
        assert any(f"group {source.consumer_group_id} partition {topic}[{partition}] starts at offset 0" in line
                   and f"StartingPosition {start}" in line for line in lines), lines
