"""The relay: copy an upstream Kafka stream (Rubin's) into skystream's ``alerts`` topic, byte for byte.

Why it exists: Rubin's alert stream is SASL_PLAINTEXT + SCRAM-SHA-512, and Lambda's
self-managed Kafka trigger supports SCRAM only over TLS, so a long-running consumer
(a Fargate task in AWS, a local process here) bridges the two clusters.

Delivery is at least once and never loses a record: a batch is consumed, every record is
produced (key, value, headers and timestamp unchanged) and acknowledged by the target
(``acks=all``, idempotent producer), and only then are the batch's offsets committed
upstream. A relay killed between the acknowledgement and the commit copies that batch again
on restart: duplicates, bounded by one batch per crash, which the ingest path tolerates
(objects are upserted, newest first). Nothing is committed for a record that was not copied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import confluent_kafka
from aws_lambda_powertools import Logger
from confluent_kafka import KafkaError, Message, TopicPartition

log = Logger(child=True)

TIMESTAMP_CREATE_TIME = confluent_kafka.TIMESTAMP_CREATE_TIME
TIMESTAMP_LOG_APPEND_TIME = confluent_kafka.TIMESTAMP_LOG_APPEND_TIME


class RelayError(RuntimeError):
    """The target did not acknowledge a batch; nothing of it was committed upstream."""


@dataclass
class RelayStats:
    """Counts since the relay started (printed as JSON on exit)."""

    consumed: int = 0
    produced: int = 0
    committed: int = 0
    batches: int = 0
    consumer_errors: int = 0
    started_at: float = 0.0
    stopped_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        elapsed = max(self.stopped_at - self.started_at, 1e-9) if self.stopped_at else None
        data["records_per_second"] = round(self.produced / elapsed, 1) if elapsed else None
        return data


@dataclass(frozen=True)
class RelaySettings:
    """Everything one relay needs; the two client configurations come from ``streams.config``."""

    source: Mapping[str, Any]  # librdkafka config of the upstream cluster (bootstrap + auth)
    source_topics: tuple[str, ...]
    target: Mapping[str, Any]  # librdkafka config of skystream's cluster
    target_topic: str
    group_id: str = "skystream-relay"
    batch_size: int = 1000
    poll_timeout_s: float = 1.0
    start_at: str = "earliest"  # a new consumer group's starting point: earliest | latest
    session_timeout_ms: int = 10_000


def copy_headers(message: Message) -> list[tuple[str, bytes]] | None:
    headers = message.headers()
    return [(k, v if v is not None else b"") for k, v in headers] if headers else None


def copy_timestamp(message: Message) -> int:
    """The record's own timestamp (create or log-append time), so the copy carries the upstream time."""
    kind, value = message.timestamp()
    return int(value) if kind in (TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME) and value > 0 else 0


class Relay:
    """One consumer, one producer, batches committed only after the target acknowledged them."""

    def __init__(self, config: RelaySettings, *, consumer: Any = None, producer: Any = None):
        """``consumer``/``producer`` replace the confluent-kafka clients (unit tests pass fakes)."""
        if config.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.config = config
        self.stats = RelayStats()
        self._stop = threading.Event()
        self._consumer = consumer or confluent_kafka.Consumer(
            {
                **config.source,
                "group.id": config.group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": config.start_at,
                "session.timeout.ms": config.session_timeout_ms,
                "heartbeat.interval.ms": max(config.session_timeout_ms // 6, 500),
                "client.id": "skystream-relay",
            }
        )
        self._producer = producer or confluent_kafka.Producer(
            {
                **config.target,
                "enable.idempotence": True,  # librdkafka's own retries never duplicate
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "zstd",
                "message.timeout.ms": 60_000,
                "client.id": "skystream-relay",
            }
        )
        self._failures: list[str] = []
        self._delivered = 0

    def stop(self) -> None:
        """Ask the loop to finish its current batch (copy, commit) and return: SIGTERM does this."""
        self._stop.set()

    # ------------------------------------------------------------------------------------------
    def _on_delivery(self, err: Any, msg: Message) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}[{msg.partition()}]: {err}")
        else:
            self._delivered += 1

    def _poll(self) -> list[Message]:
        messages = self._consumer.consume(num_messages=self.config.batch_size, timeout=self.config.poll_timeout_s)
        batch = []
        for message in messages:
            error = message.error()
            if error is None:
                batch.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                self.stats.consumer_errors += 1
                if error.fatal() or (not error.retriable() and error.code() in _FATAL_CONSUMER_ERRORS):
                    raise RelayError(f"upstream consumer failed: {error}")
                log.warning("upstream consumer error: %s", error)
        return batch

    def _produce(self, message: Message) -> None:
        kwargs: dict[str, Any] = {
            "value": message.value(),
            "key": message.key(),
            "headers": copy_headers(message),
            "on_delivery": self._on_delivery,
        }
        timestamp = copy_timestamp(message)
        if timestamp:
            kwargs["timestamp"] = timestamp
        while True:
            try:
                self._producer.produce(self.config.target_topic, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.1)  # the local queue is full: let acknowledgements drain
        self._producer.poll(0)

    def copy_batch(self, batch: list[Message]) -> int:
        """Produce, wait for every acknowledgement, then commit. Returns the records copied."""
        self._failures.clear()
        self._delivered = 0
        for message in batch:
            self._produce(message)
        remaining = self._producer.flush(120)
        if remaining or self._failures or self._delivered != len(batch):
            raise RelayError(
                f"target acknowledged {self._delivered} of {len(batch)} records "
                f"({remaining} outstanding; {'; '.join(self._failures[:3])}); nothing committed"
            )
        next_offsets: dict[tuple[str, int], int] = {}
        for message in batch:
            key = (message.topic(), message.partition())
            next_offsets[key] = max(next_offsets.get(key, 0), message.offset() + 1)
        self._consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in next_offsets.items()], asynchronous=False
        )
        self.stats.produced += len(batch)
        self.stats.committed += len(batch)
        self.stats.batches += 1
        return len(batch)

    def run(
        self,
        *,
        max_records: int | None = None,
        idle_exit_s: float | None = None,
        progress: Callable[[RelayStats], None] | None = None,
    ) -> RelayStats:
        """Copy until stopped, until ``max_records`` were copied, or after ``idle_exit_s`` with nothing new."""
        self.stats.started_at = time.time()
        assigned_at: list[float] = []  # idle time counts from the group assignment, not from start-up

        def on_assign(_consumer: Any, partitions: list[TopicPartition]) -> None:
            assigned_at.append(time.monotonic())
            log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))

        self._consumer.subscribe(list(self.config.source_topics), on_assign=on_assign)
        last_record: float | None = None
        try:
            while not self._stop.is_set():
                if max_records is not None and self.stats.produced >= max_records:
                    break
                batch = self._poll()
                if not batch:
                    since = last_record or (assigned_at[-1] if assigned_at else None)
                    if idle_exit_s is not None and since is not None and time.monotonic() - since >= idle_exit_s:
                        break
                    continue
                last_record = time.monotonic()
                self.stats.consumed += len(batch)
                self.copy_batch(batch)
                if progress is not None:
                    progress(self.stats)
        finally:
            self.stats.stopped_at = time.time()
            self.close()
        return self.stats

    def close(self) -> None:
        self._producer.flush(10)
        self._consumer.close()


_FATAL_CONSUMER_ERRORS = {
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
}
