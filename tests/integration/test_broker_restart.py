"""A broker restart (tansu's memory storage forgets topics, groups and producer ids) loses nothing:
the runner replays the recreated topic from its earliest record instead of jumping to its end,
and the producer the broker forgot is replaced after one failed batch instead of failing for ever."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from skystream.config import settings
from skystream.local.aws_endpoint import LOCAL_CREDENTIALS
from skystream.local.broker import start_broker
from skystream.local.esm import EventSourceRunner
from skystream.local.processes import free_port, stop_pid
from skystream.local.stack import local_template
from skystream.local.template import KafkaEventSource
from skystream.local.testing import produce
from skystream.streams.admin import TopicAdmin
from skystream.streams.lambda_event import records_from_event
from skystream.streams.producer import ProduceError, Producer

TOPIC = "restart-input"


class RestartableBroker:
    """A tansu of this test's own (the session's broker must not be restarted under other tests)."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log = log_dir / "kafka.log"
        self.process = start_broker(self.port, self.log, die_with_parent=True)

    def restart(self) -> None:
        stop_pid(self.process.pid)
        self.process.wait(5)
        self.process = start_broker(self.port, self.log, die_with_parent=True)

    def create_topic(self) -> None:
        TopicAdmin(AdminClient({"bootstrap.servers": self.bootstrap})).create([TOPIC], partitions=2,
                                                                            replication_factor=-1)

    def stop(self) -> None:
        stop_pid(self.process.pid)
        self.process.wait(5)


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RestartableBroker]:
    broker = RestartableBroker(tmp_path)
    # This broker is bare tansu (no front door): the producer wrapper logs in as the settings say, so
    # point them at it, in plaintext, whatever the session's stack (SASL/SCRAM) set.
    for name, value in {**LOCAL_CREDENTIALS, **local_template(broker.bootstrap).environment}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KAFKA_SECURITY_PROTOCOL", raising=False)
    settings.cache_clear()
    try:
        yield broker
    finally:
        broker.stop()
        monkeypatch.undo()
        settings.cache_clear()


class BlockingHandler:
    """Records every value; its first call waits for ``release`` (holding the runner inside a batch)."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(120), "the test never released the handler"
        self.seen.extend(r.value for r in records_from_event(event))


def test_a_broker_restart_neither_skips_records_nor_wedges_the_producer(
        broker: RestartableBroker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    broker.create_topic()
    source = KafkaEventSource(function="RestartFunction", topics=[TOPIC], batch_size=100, batching_window_s=0.2,
                              starting_position="LATEST", consumer_group_id=f"restart-{uuid.uuid4().hex[:6]}",
                              event_source="aws:kafka")
    handler = BlockingHandler()
    runner = EventSourceRunner(source, handler, bootstrap_servers=broker.bootstrap, backoff_initial_s=0.1).start()
    producer = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 3000})
    try:
        for i in range(10):
            producer.produce(TOPIC, b"before-%d" % i, key=str(i))
        assert producer.flush(10) == 10
        assert handler.entered.wait(30), "the runner never delivered the first batch"

        # The runner is held inside that batch while the broker restarts and forgets everything.
        broker.restart()
        broker.create_topic()
        with pytest.raises(ProduceError):  # the broker no longer knows this producer id: the batch fails...
            for i in range(5):
                producer.produce(TOPIC, b"lost-%d" % i, key=str(i))
            producer.flush(10)
        for i in range(20):  # ...and the very next one goes through a fresh producer
            producer.produce(TOPIC, b"after-%d" % i, key=str(i))
        assert producer.flush(10) == 20
        assert producer.rebuilds == 1
        produce(broker.bootstrap, TOPIC, [b"plain-%d" % i for i in range(10)], keys=[b"%d" % i for i in range(10)])

        # Only now may the runner rejoin the (forgotten) group: the topic already holds 30 records.
        handler.release.set()
        want = {b"after-%d" % i for i in range(20)} | {b"plain-%d" % i for i in range(10)}
        deadline = time.monotonic() + 60
        while not want <= set(handler.seen) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        handler.release.set()
        runner.stop()
    missing = want - set(handler.seen)
    assert not missing, f"{len(missing)} records written after the restart were skipped: {sorted(missing)[:5]}"
    gone = [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "committed offset is gone" in r.getMessage()]
    assert len(gone) == 2 and all(f"partition {TOPIC}[" in line and "starts at offset 0" in line for line in gone)
