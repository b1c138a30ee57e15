"""The newest records of a topic, read page by page without a consumer group.

What the web page's stream view shows (``GET /filters/{id}/records``): a user looks at the last
records their filter put on its topic, then at older ones. Nothing is committed and no group
is joined (partitions are assigned by hand, as ``skystream consume`` and the tests' read_topic
do), so looking never moves a consumer's position, and needs only read access to the topic.

One page: for each partition, the offsets ``[max(low, end - limit), end)`` where ``end`` is the
cursor; on the first page, from ``high watermark - limit`` to the end of the partition as the
fetch reports it (librdkafka's partition EOF). Those records are merged newest first by
timestamp and cut to ``limit`` records and about ``max_bytes`` of values (the API's answer must
stay well inside Lambda's 6 MB response). The next cursor is, per partition, the oldest offset
shown (or where that partition's range ended when none of it was shown).

The client is made from the functions' own Kafka settings (``streams.config.client_config``:
plaintext, SCRAM or MSK IAM, whatever KAFKA_AUTH says), one per page read, closed after it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from skystream.domain.errors import Unavailable
from skystream.domain.records import KafkaRecord, TopicPage
from skystream.streams.config import client_config

DEFAULT_MAX_BYTES = 4_000_000
"""Values per page: inside API Gateway's and Lambda's 6 MB response with room for the JSON around them."""


class TopicReader:
    """``tail(topic, limit=, before=)``: a :class:`TopicPage`. ``config`` gives the librdkafka settings
    (called per read, so a rotated SCRAM secret is picked up); ``timeout_s`` bounds one read."""

    def __init__(self, config: Callable[[], dict[str, Any]] = client_config, *, timeout_s: float = 8.0):
        self._config = config
        self.timeout_s = timeout_s

    def tail(self, topic: str, *, limit: int, before: Mapping[int, int] | None = None,
             max_bytes: int = DEFAULT_MAX_BYTES) -> TopicPage:
        deadline = time.monotonic() + self.timeout_s
        conf = {
            **self._config(),
            # librdkafka wants a group id even for assigned partitions; nothing joins or commits it.
            "group.id": f"skystream-tail-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,  # the end of a partition is known after one empty fetch: keep it short
        }
        consumer = Consumer(conf)
        try:
            if "oauth_cb" in conf:
                consumer.poll(0)  # librdkafka fetches the MSK IAM token from poll()
            metadata = consumer.list_topics(topic, timeout=_left(deadline)).topics.get(topic)
            if metadata is None or metadata.error is not None or not metadata.partitions:
                return TopicPage(topic, [], None, exists=False)
            lows: dict[int, int] = {}
            ranges: dict[int, tuple[int, int | None]] = {}  # partition -> [start, end); end None: to the end
            for partition in sorted(metadata.partitions):
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                           timeout=_left(deadline), cached=False)
                lows[partition] = low
                if before and partition in before:  # an offset this reader showed: an exact end
                    end = max(low, before[partition])
                    if low < end:
                        ranges[partition] = (max(low, end - limit), end)
                else:
                    # The newest page reads to the end the fetch reports (end of partition), not to
                    # the high watermark ListOffsets gave: some brokers (tansu) give the last
                    # batch's base offset + 1 there, which would hide the rest of that batch.
                    ranges[partition] = (max(low, high - limit), None)
            read, complete = _read(consumer, topic, ranges, deadline)
        except KafkaException as exc:
            raise Unavailable(f"the Kafka cluster did not answer while topic {topic} was read ({exc}); "
                              "try again in a moment", topic=topic) from exc
        finally:
            consumer.close()
        return _page(topic, read, lows, ranges, limit=limit, max_bytes=max_bytes, complete=complete)


def _left(deadline: float) -> float:
    return max(0.5, deadline - time.monotonic())


def _read(consumer: Consumer, topic: str, ranges: dict[int, tuple[int, int | None]],
          deadline: float) -> tuple[list[KafkaRecord], bool]:
    """Every record of ``ranges``; False as well when time ran out before every partition was read."""
    if not ranges:
        return [], True
    consumer.assign([TopicPartition(topic, p, start) for p, (start, _end) in ranges.items()])
    pending = set(ranges)
    records: list[KafkaRecord] = []
    while pending and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=500, timeout=min(0.5, _left(deadline))):
            partition = message.partition()
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(partition)
                    continue
                raise KafkaException(error)
            start, end = ranges.get(partition, (0, 0))
            offset = message.offset()
            if offset >= start and (end is None or offset < end):
                timestamp_type, timestamp_ms = message.timestamp()
                records.append(KafkaRecord(
                    topic=topic, partition=partition, offset=offset, value=message.value() or b"",
                    key=message.key(), headers={k: v or b"" for k, v in (message.headers() or [])},
                    timestamp_ms=int(timestamp_ms or 0),
                    timestamp_type="LOG_APPEND_TIME" if timestamp_type == 2 else "CREATE_TIME",
                ))
            if end is not None and offset >= end - 1:
                pending.discard(partition)
    return records, not pending


def _page(topic: str, read: list[KafkaRecord], lows: dict[int, int], ranges: dict[int, tuple[int, int | None]], *,
          limit: int, max_bytes: int, complete: bool) -> TopicPage:
    """Newest first, cut to ``limit`` and ``max_bytes`` (at least one record), with the next cursor."""
    newest_first = sorted(read, key=lambda r: (r.timestamp_ms, r.offset, r.partition), reverse=True)
    shown: list[KafkaRecord] = []
    size = 0
    for record in newest_first[:limit]:
        size += len(record.value) + len(record.key or b"")
        if shown and size > max_bytes:
            break
        shown.append(record)
    # Per partition: the oldest offset shown; a partition none of whose records was shown keeps the
    # end of its range (for one read to its end: one past the newest record read, or its start).
    cursor: dict[int, int] = {}
    for p, (start, end) in ranges.items():
        newest = max((r.offset + 1 for r in read if r.partition == p), default=start)
        cursor[p] = end if end is not None else newest
    for p, low in lows.items():
        cursor.setdefault(p, low)
    for record in shown:
        cursor[record.partition] = min(cursor[record.partition], record.offset)
    older = any(cursor[p] > low for p, low in lows.items())
    return TopicPage(topic, shown, cursor if older else None, complete=complete)
