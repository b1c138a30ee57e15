"""Has a consumer group caught up with a topic? (committed offsets against the high watermarks)

The demo and the tests use it to know that a function has handled everything produced so
far, e.g. that the matcher is done with last night's alerts before a filter is saved.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, TopicPartition


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of ``topic`` the group has not committed yet (a partition never committed counts whole)."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                      "client.id": f"lag-probe-{uuid.uuid4().hex[:6]}"})
    try:
        metadata = probe.list_topics(topic, timeout=10).topics[topic]
        partitions = [TopicPartition(topic, p) for p in metadata.partitions]
        committed = probe.committed(partitions, timeout=10)
        lag = 0
        for tp in committed:
            low, high = probe.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        probe.close()


def wait_caught_up(bootstrap: str, group: str, topic: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while (lag := group_lag(bootstrap, group, topic)) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer group {group} is still {lag} record(s) behind on {topic}")
        time.sleep(0.2)
