"""Has a consumer group caught up with a topic? (committed offsets against each partition's end)

The demo and the tests use it to know that a function has handled everything produced so
far, e.g. that the matcher is done with last night's alerts before a filter is saved.

A partition's end is read, not taken from the high watermark: tansu reports the watermark
as the base offset of the last record batch plus one (docs/local-stack.md), which
under-counts by up to a batch and made a group look ahead of the topic.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition

from skystream.local.kafka_config import client_config


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's last offset plus one, found by reading from the watermark's batch to the end."""
    reader = Consumer(client_config(bootstrap, **{"group.id": f"end-probe-{uuid.uuid4().hex}",
                                                  "enable.auto.commit": False, "enable.partition.eof": True}))
    try:
        metadata = reader.list_topics(topic, timeout=10).topics[topic]
        ends: dict[int, int] = {}
        start: list[TopicPartition] = []
        for partition in metadata.partitions:
            low, high = reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            ends[partition] = high
            if high > low:  # read the last batch: its records end past the watermark
                start.append(TopicPartition(topic, partition, high - 1))
        reader.assign(start)
        open_partitions = {tp.partition for tp in start}
        deadline = time.monotonic() + 10
        while open_partitions and time.monotonic() < deadline:
            for message in reader.consume(num_messages=1000, timeout=0.5):
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    open_partitions.discard(message.partition())
                elif error is None:
                    ends[message.partition()] = max(ends[message.partition()], message.offset() + 1)
        return ends
    finally:
        reader.close()


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of ``topic`` the group has not committed yet (a partition never committed counts whole)."""
    ends = end_offsets(bootstrap, topic)
    probe = Consumer(client_config(bootstrap, **{"group.id": group, "enable.auto.commit": False,
                                                 "client.id": f"lag-probe-{uuid.uuid4().hex[:6]}"}))
    try:
        committed = probe.committed([TopicPartition(topic, p) for p in ends], timeout=10)
        lag = 0
        for tp in committed:
            low, _ = probe.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            lag += ends[tp.partition] - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        probe.close()


def wait_caught_up(bootstrap: str, group: str, topic: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while (lag := group_lag(bootstrap, group, topic)) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer group {group} is still {lag} record(s) behind on {topic}")
        time.sleep(0.2)
