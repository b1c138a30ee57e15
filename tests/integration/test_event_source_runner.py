"""The local event-source mapping delivers every record at least once, in order per partition,
commits only after the handler returns, and resumes from committed offsets after a restart."""

from __future__ import annotations

import time
import uuid
from collections import Counter

from aws_lambda_powertools.utilities.data_classes import KafkaEvent
from aws_lambda_powertools.utilities.parser.models import KafkaMskEventModel
from fakes import RecordingHandler

from skystream.local.esm import EventSourceRunner
from skystream.local.template import KafkaEventSource
from skystream.local.testing import EphemeralStack, produce
from skystream.streams.admin import TopicAdmin


def _source(topic: str, batch_size: int = 100, window: float = 0.2, start: str = "TRIM_HORIZON") -> KafkaEventSource:
    return KafkaEventSource(
        function="TestFunction",
        topics=[topic],
        batch_size=batch_size,
        batching_window_s=window,
        starting_position=start,
        consumer_group_id=f"test-{uuid.uuid4().hex[:8]}",
        event_source="aws:kafka",
    )


def _fresh_topic(partitions: int = 3) -> str:
    name = f"runner-{uuid.uuid4().hex[:8]}"
    TopicAdmin().create([name], partitions=partitions)
    return name


def _drain(runner: EventSourceRunner, handler: RecordingHandler, want: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len({v for _, _, v in handler.seen}) < want and time.monotonic() < deadline:
        runner.run_once(idle_timeout=0.5)


def test_thousand_records_survive_a_handler_that_fails_twice(stack: EphemeralStack) -> None:
    topic = _fresh_topic()
    values = [f"record-{i}".encode() for i in range(1000)]
    produce(stack.bootstrap, topic, values, keys=[str(i % 17).encode() for i in range(1000)])
    handler = RecordingHandler(failures=2)
    runner = EventSourceRunner(_source(topic), handler, bootstrap_servers=stack.bootstrap, kafka_config=stack.client_config(), backoff_initial_s=0.05)
    try:
        _drain(runner, handler, 1000)
    finally:
        runner.stop()
    delivered = Counter(v for _, _, v in handler.seen)
    assert set(delivered) == set(values), "a record was skipped"
    assert handler.calls >= 3 and runner.stats.failed_calls == 2
    # The two failed calls were retried with the very same batch.
    assert handler.events[0] == handler.events[1] == handler.events[2]
    # Per partition, offsets arrive in order with no gap.
    by_partition: dict[int, list[int]] = {}
    for partition, offset, _ in handler.seen:
        by_partition.setdefault(partition, []).append(offset)
    for offsets in by_partition.values():
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))


def test_committed_offsets_survive_a_restart(stack: EphemeralStack) -> None:
    topic = _fresh_topic(partitions=2)
    source = _source(topic, batch_size=50)
    produce(stack.bootstrap, topic, [f"a{i}".encode() for i in range(120)])
    first = RecordingHandler()
    runner = EventSourceRunner(source, first, bootstrap_servers=stack.bootstrap, kafka_config=stack.client_config())
    try:
        _drain(runner, first, 120)
    finally:
        runner.stop()
    assert len(first.seen) == 120

    produce(stack.bootstrap, topic, [f"b{i}".encode() for i in range(30)])
    second = RecordingHandler()
    restarted = EventSourceRunner(source, second, bootstrap_servers=stack.bootstrap, kafka_config=stack.client_config())
    try:
        _drain(restarted, second, 30)
        restarted.run_once(idle_timeout=1.0)  # nothing older may come back
    finally:
        restarted.stop()
    assert sorted(v for _, _, v in second.seen) == sorted(f"b{i}".encode() for i in range(30))


def test_a_batch_interrupted_mid_retry_is_delivered_again_after_restart(stack: EphemeralStack) -> None:
    topic = _fresh_topic(partitions=1)
    source = _source(topic, batch_size=10)
    produce(stack.bootstrap, topic, [f"c{i}".encode() for i in range(10)])
    always_failing = RecordingHandler(failures=10**6)
    runner = EventSourceRunner(source, always_failing, bootstrap_servers=stack.bootstrap, kafka_config=stack.client_config(), backoff_initial_s=0.05)
    runner.start()
    deadline = time.monotonic() + 30
    while always_failing.calls < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.stop()
    assert always_failing.calls >= 2 and not always_failing.seen

    healthy = RecordingHandler()
    restarted = EventSourceRunner(source, healthy, bootstrap_servers=stack.bootstrap, kafka_config=stack.client_config())
    try:
        _drain(restarted, healthy, 10)
    finally:
        restarted.stop()
    assert sorted(v for _, _, v in healthy.seen) == sorted(f"c{i}".encode() for i in range(10))


def test_batches_respect_batch_size_and_the_event_parses_with_powertools(stack: EphemeralStack) -> None:
    topic = _fresh_topic(partitions=1)
    produce(stack.bootstrap, topic, [b'{"n": %d}' % i for i in range(25)], keys=[b"k"] * 25,
            headers={"filter_id": b"f-1"})
    handler = RecordingHandler()
    runner = EventSourceRunner(_source(topic, batch_size=10), handler, bootstrap_servers=stack.bootstrap, kafka_config=stack.client_config())
    try:
        _drain(runner, handler, 25)
    finally:
        runner.stop()
    assert max(runner.stats.batch_sizes) <= 10 and sum(runner.stats.batch_sizes) == 25
    event = handler.events[0]
    model = KafkaMskEventModel.model_validate(event)
    record = model.records[f"{topic}-0"][0]
    assert record.key == b"k" and record.value == '{"n": 0}'
    assert record.headers == [{"filter_id": b"f-1"}]
    assert KafkaEvent(event).record.json_value == {"n": 0}


def test_latest_starting_position_sees_records_produced_after_start(stack: EphemeralStack) -> None:
    topic = _fresh_topic(partitions=2)
    # One record per produce call: tansu reports a partition's high watermark as the last
    # batch's base offset + 1, so a multi-record last batch would be partly re-read (docs/local-stack.md).
    for _ in range(5):
        produce(stack.bootstrap, topic, [b"before"])
    handler = RecordingHandler()
    runner = EventSourceRunner(_source(topic, start="LATEST"), handler, bootstrap_servers=stack.bootstrap, kafka_config=stack.client_config()).start()
    try:
        produce(stack.bootstrap, topic, [f"after{i}".encode() for i in range(20)])
        deadline = time.monotonic() + 30
        while len(handler.seen) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert sorted(v for _, _, v in handler.seen) == sorted(f"after{i}".encode() for i in range(20))


def test_a_window_0_batch_is_handed_over_at_its_first_record(stack: EphemeralStack) -> None:
    """With no batching window a lone record reaches the handler at once, as Lambda invokes at once; the
    runner used to wait for a full batch (500) or its idle timeout (0.5 s) before handing it over."""
    topic = _fresh_topic(partitions=1)
    handler = RecordingHandler()
    runner = EventSourceRunner(_source(topic, batch_size=500, window=0.0), handler, bootstrap_servers=stack.bootstrap,
                            kafka_config=stack.client_config())
    runner.start()
    delays = []
    try:
        for i in range(5):
            produce(stack.bootstrap, topic, [f"lone-{i}".encode()])
            produced = time.monotonic()  # acknowledged by the broker
            while len(handler.seen) <= i:
                assert time.monotonic() - produced < 10, "the record never reached the handler"
                time.sleep(0.005)
            delays.append(time.monotonic() - produced)
    finally:
        runner.stop()
    assert [len(e["records"][next(iter(e["records"]))]) for e in handler.events] == [1] * 5
    assert min(delays) < 0.3, delays  # was >= 0.5 s: consume() waited for 500 records or its timeout
