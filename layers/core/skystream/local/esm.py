"""The local event-source mapping: what Lambda's Kafka trigger does, on our own consumer.

For one function and its Kafka event source it polls a batch (``BatchSize`` records or
``MaximumBatchingWindowInSeconds`` after the first one, at most :data:`LOCAL_MAX_BATCHING_WINDOW_S`), builds the exact event JSON
Lambda sends, calls the handler in-process, and commits the batch's offsets only after
the handler returns. If the handler raises, the same batch is retried with backoff:
nothing is skipped. A runner stopped mid-retry commits nothing, so a restarted runner
delivers the batch again (at least once, never lost).

Where a partition starts: its committed offset. A partition the group has never
committed starts at ``StartingPosition`` (``LATEST``: the end, ``TRIM_HORIZON``: the
earliest record), and that start is committed at once, synchronously, before any
record is handed over. Without that commit a runner killed during its first batch
left no offset behind, and its successor resolved ``LATEST`` again, past the records
the first one never finished: they were skipped, silently. A partition this runner
has already worked on that comes back without a committed offset (the broker lost
the group, as tansu's memory storage does on restart) starts at the earliest record:
a replay (duplicates) rather than a skip. Each such decision is logged, one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, Message, TopicPartition

from skystream.domain.records import KafkaRecord
from skystream.local.handlers import Handler, LocalLambdaContext
from skystream.local.template import KafkaEventSource
from skystream.streams.lambda_event import build_kafka_event

log = logging.getLogger(__name__)

_TIMESTAMP_TYPES = {1: "CREATE_TIME", 2: "LOG_APPEND_TIME"}
FETCH_WAIT_MS = 50
LOCAL_MAX_BATCHING_WINDOW_S = 2.0
"""The longest batching window the local stack waits: the template's windows up to it are kept (1 s), a longer
one (the history writer's 300 s, which makes big files on AWS) is cut to it, so local batches stay prompt."""


@dataclass
class RunnerStats:
    batches: int = 0
    records: int = 0
    failed_calls: int = 0
    sent_to_on_failure: int = 0
    last_error: str | None = None
    batch_sizes: list[int] = field(default_factory=list)


def to_record(message: Message) -> KafkaRecord:
    ts_type, ts = message.timestamp()
    return KafkaRecord(
        topic=message.topic(),
        partition=message.partition(),
        offset=message.offset(),
        value=message.value() or b"",
        key=message.key(),
        headers={k: (v or b"") for k, v in (message.headers() or [])},
        timestamp_ms=int(ts),
        timestamp_type=_TIMESTAMP_TYPES.get(ts_type, "CREATE_TIME"),
    )


class EventSourceRunner:
    """One function's Kafka trigger. ``start()`` runs it in a thread; ``run_once()`` drives it by hand."""

    def __init__(
        self,
        source: KafkaEventSource,
        handler: Handler,
        *,
        bootstrap_servers: str,
        kafka_config: Mapping[str, Any] | None = None,
        function_name: str | None = None,
        group_id: str | None = None,
        batching_window_s: float | None = None,
        max_retries: int | None = None,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        on_failure: Callable[[dict[str, Any], Exception], None] | None = None,
    ):
        self.source = source
        self.handler = handler
        self.bootstrap_servers = bootstrap_servers
        self.kafka_config = dict(kafka_config or {})  # how to log in (Lambda: the trigger's SourceAccessConfigurations)
        self.function_name = function_name or source.function
        self.group_id = group_id or source.consumer_group_id
        # A window set here wins; the template's is capped (the history writer's 300 s would hold a local batch,
        # a demo or a test for five minutes).
        self.batching_window_s = (min(source.batching_window_s, LOCAL_MAX_BATCHING_WINDOW_S)
                                  if batching_window_s is None else batching_window_s)
        self.max_retries = max_retries
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.on_failure = on_failure
        self.stats = RunnerStats()
        self._stopping = threading.Event()
        self._assigned = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None
        # Partitions this runner has been assigned before: one that comes back with no committed
        # offset lost it (a broker restart), and must not be resolved to "latest" again.
        self._worked_on: set[tuple[str, int]] = set()

    # -- consumer -----------------------------------------------------------------
    def _starts_at_latest(self) -> bool:
        return self.source.starting_position.upper() == "LATEST"

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Start each partition at its committed offset; one never committed gets its start committed first.

        Resolving the start now (not lazily at the first fetch) means records produced after
        ``start()`` returns are never skipped; committing it before any batch means a runner
        killed mid-first-batch is succeeded by one that starts at the same place, not at a
        newer "latest".
        """
        committed = consumer.committed(partitions, timeout=15)
        starts: list[tuple[TopicPartition, str, int]] = []  # (partition at its start, why, log level)
        for tp in committed:
            if tp.offset != OFFSET_INVALID and tp.offset >= 0:
                continue
            low, high = consumer.get_watermark_offsets(tp, timeout=15)
            if (tp.topic, tp.partition) in self._worked_on:
                tp.offset = low
                starts.append((tp, "its committed offset is gone (did the broker restart?): the earliest record",
                               logging.WARNING))
            elif self._starts_at_latest():
                tp.offset = high
                starts.append((tp, "no committed offset; StartingPosition LATEST: the end", logging.INFO))
            else:
                tp.offset = low
                starts.append((tp, f"no committed offset; StartingPosition {self.source.starting_position}: "
                                   "the earliest record", logging.INFO))
        if starts and not self._commit_starts(consumer, [tp for tp, _, _ in starts]):
            return  # stopped first: a successor resolves (and commits) the start itself
        for tp, why, level in starts:
            log.log(level, "%s: group %s partition %s[%d] starts at offset %d, committed before its first batch (%s)",
                    self.function_name, self.group_id, tp.topic, tp.partition, tp.offset, why)
        self._worked_on.update((tp.topic, tp.partition) for tp in committed)
        consumer.assign(committed)
        self._assigned.set()

    def _commit_starts(self, consumer: Consumer, starts: list[TopicPartition]) -> bool:
        """Commit the resolved starts synchronously, retrying until it works; False if stopped first."""
        offsets = [TopicPartition(tp.topic, tp.partition, tp.offset) for tp in starts]
        backoff = self.backoff_initial_s
        while True:
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
                return True
            except KafkaException as exc:
                log.warning("%s: group %s could not commit its starting offsets yet (%s); retrying",
                            self.function_name, self.group_id, exc)
            if self._stopping.wait(backoff):
                return False
            backoff = min(backoff * 2, self.backoff_max_s)

    def _open(self) -> Consumer:
        if self._consumer is None:
            consumer = Consumer(
                {
                    **self.kafka_config,
                    "bootstrap.servers": self.bootstrap_servers,
                    "group.id": self.group_id,
                    "enable.auto.commit": False,
                    # Every partition is assigned an explicit offset (_on_assign), so this applies only
                    # to a committed offset out of range (topic recreated, retention passed): replaying
                    # from the earliest is a duplicate where "latest" would be a silent skip.
                    "auto.offset.reset": "earliest",
                    "session.timeout.ms": 6000,
                    "heartbeat.interval.ms": 1000,
                    "max.poll.interval.ms": 3_600_000,
                    # tansu answers a fetch when its wait is up, not when a record arrives (Kafka and MSK
                    # answer at once): librdkafka's default 500 ms wait cost ~200 ms per stage (measured,
                    # BENCHMARKS.md); 50 ms costs a few more empty fetches and ~50 ms.
                    "fetch.wait.max.ms": FETCH_WAIT_MS,
                    "client.id": f"esm-{self.function_name}",
                }
            )
            consumer.subscribe(list(self.source.topics), on_assign=self._on_assign)
            self._consumer = consumer
        return self._consumer

    def wait_assigned(self, timeout: float = 30.0) -> None:
        """Block until the consumer group has assigned partitions (the thread started by ``start`` polls)."""
        deadline = time.monotonic() + timeout
        while not self._assigned.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.function_name}: no partitions assigned within {timeout:.0f} s")
            time.sleep(0.05)

    # -- batches ------------------------------------------------------------------
    def _poll_batch(self, idle_timeout: float) -> list[Message]:
        """A batch as Lambda forms one: from the first record, more until ``BatchSize`` records or the
        batching window is up. The first record is awaited with ``poll`` (it returns as soon as one is
        there); ``consume(n, timeout)`` would wait for all n (or the timeout) even with a window of 0,
        which held every window-0 batch up to ``idle_timeout`` (0.5 s) at low rates."""
        consumer = self._open()
        batch: list[Message] = []
        idle_until = time.monotonic() + idle_timeout
        while not batch and not self._stopping.is_set():
            left = idle_until - time.monotonic()
            if left <= 0:
                return batch
            message = consumer.poll(timeout=left)
            if message is None:
                return batch
            self._keep(message, batch)
        deadline = time.monotonic() + self.batching_window_s
        while batch and len(batch) < self.source.batch_size and not self._stopping.is_set():
            wait = max(deadline - time.monotonic(), 0.0)
            for message in consumer.consume(num_messages=self.source.batch_size - len(batch), timeout=wait):
                self._keep(message, batch)
            if time.monotonic() >= deadline:
                break
        return batch

    def _keep(self, message: Message, batch: list[Message]) -> None:
        error = message.error()
        if error is None:
            batch.append(message)
        elif error.code() != KafkaError._PARTITION_EOF:
            log.warning("%s: consumer error %s", self.function_name, error)

    def _invoke(self, event: dict[str, Any]) -> bool:
        """Call the handler until it succeeds. False means stopped before success: commit nothing."""
        attempt = 0
        backoff = self.backoff_initial_s
        while True:
            try:
                self.handler(event, LocalLambdaContext(self.function_name))
                return True
            except Exception as exc:
                attempt += 1
                self.stats.failed_calls += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("%s: handler failed (attempt %d): %s", self.function_name, attempt, exc)
                if self.max_retries is not None and attempt > self.max_retries:
                    if self.on_failure is None:
                        raise
                    self.on_failure(event, exc)
                    self.stats.sent_to_on_failure += 1
                    return True
                if self._stopping.wait(backoff):
                    return False
                backoff = min(backoff * 2, self.backoff_max_s)

    def run_once(self, idle_timeout: float = 1.0) -> int:
        """Deliver at most one batch; returns how many records it held (0 when idle)."""
        messages = self._poll_batch(idle_timeout)
        if not messages:
            return 0
        records = [to_record(m) for m in messages]
        event = build_kafka_event(
            records, bootstrap_servers=self.bootstrap_servers, event_source=self.source.event_source  # type: ignore[arg-type]
        )
        if not self._invoke(event):
            return 0
        next_offsets: dict[tuple[str, int], int] = {}
        for record in records:
            key = (record.topic, record.partition)
            next_offsets[key] = max(next_offsets.get(key, 0), record.offset + 1)
        self._open().commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in next_offsets.items()], asynchronous=False
        )
        self.stats.batches += 1
        self.stats.records += len(records)
        self.stats.batch_sizes.append(len(records))
        return len(records)

    # -- lifecycle ----------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once(idle_timeout=0.5)
            except Exception as exc:  # a commit or consumer failure: log, back off, keep the runner alive
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: runner error", self.function_name)
                self._stopping.wait(1.0)

    def start(self, wait_assigned: bool = True, timeout: float = 30.0) -> EventSourceRunner:
        self._open()
        self._thread = threading.Thread(target=self._loop, name=f"esm-{self.function_name}", daemon=True)
        self._thread.start()
        if wait_assigned:
            self.wait_assigned(timeout)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
