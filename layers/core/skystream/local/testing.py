"""Local-stack helpers shared by the integration tests, the benchmarks and the demo.

:class:`EphemeralStack` starts a broker (tansu behind its SASL/SCRAM front door, as ``skystream up``
does) and an AWS endpoint on free loopback ports (or uses existing ones named by
``KAFKA_BOOTSTRAP_SERVERS`` / ``AWS_ENDPOINT_URL``; a broker named so is logged in to as
``KAFKA_AUTH`` and ``KAFKA_SCRAM_SECRET_ARN`` say),
points this process at them, and can wipe them back to what the template declares.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from skystream import wiring
from skystream.aws import client
from skystream.domain.records import KafkaRecord
from skystream.local.aws_endpoint import moto_reset, start_moto
from skystream.local.broker import Login, start_kafka
from skystream.local.esm import to_record
from skystream.local.kafka_config import client_config
from skystream.local.processes import free_port, stop_pid
from skystream.local.provision import FUNCTIONS_SECRET, fresh_access, provision, put_functions_secret
from skystream.local.stack import (
    FunctionHost,
    apply_environment,
    local_environment,
    local_template,
    named_broker_secret,
)
from skystream.local.template import LocalTemplate
from skystream.streams.producer import close_shared_producers


class EphemeralStack:
    """A broker and an AWS endpoint for one test session or one benchmark run."""

    def __init__(self, log_dir: Path | None = None, *, anonymous: bool = False):
        """``anonymous``: the broker's front door also lets in clients that do not log in (``start_kafka``)."""
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="skystream-"))
        self.anonymous = anonymous
        self._processes: list[subprocess.Popen] = []
        self._saved_env = dict(os.environ)
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or ""
        self.endpoint = os.environ.get("AWS_ENDPOINT_URL") or ""
        self.template: LocalTemplate | None = None
        self.functions: Login | None = None  # the functions' Kafka login, when the broker is ours

    def start(self) -> EphemeralStack:
        if not self.bootstrap:
            kafka = start_kafka(free_port(), self.log_dir, die_with_parent=True, anonymous=self.anonymous)
            self._processes.extend(kafka.processes)
            self.bootstrap, self.functions = kafka.bootstrap, kafka.functions
        if not self.endpoint:
            port = free_port()
            self._processes.append(start_moto(port, self.log_dir / "aws.log", die_with_parent=True))
            self.endpoint = f"http://127.0.0.1:{port}"
        self.template = local_template(self.bootstrap,
                                       scram_secret=FUNCTIONS_SECRET if self.functions else named_broker_secret())
        apply_environment(local_environment(self.template, self.endpoint))
        if self.functions is not None:
            put_functions_secret(self.functions)
        return self

    def client_config(self, **overrides: object) -> dict[str, object]:
        """librdkafka settings for this stack's broker, logged in as the functions."""
        return client_config(self.bootstrap, **overrides)

    def reset(self) -> None:
        """Back to exactly what the template declares: empty tables and bucket, fresh topics."""
        assert self.template is not None, "start() first"
        try:
            moto_reset(self.endpoint)
        except OSError:  # not moto: drop the template's tables instead
            dynamodb = client("dynamodb")
            for name in self.template.tables:
                with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
                    dynamodb.delete_table(TableName=name)
        if self.functions is not None:
            put_functions_secret(self.functions)  # the reset forgot it
            fresh_access(self.functions.username)  # no user's Kafka credential, no ACL
        provision(self.template, fresh_topics=True)
        wiring.reset()  # the stores remember what they wrote (the nights holding objects): forget it

    @contextlib.contextmanager
    def api(self) -> Iterator[str]:
        """The HTTP API function alone, hosted in this process on a free port; yields its base URL."""
        port = free_port()
        host = self.host(only={"filter_api"}, api_port=port).start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            host.stop()

    def host(self, *, only: set[str] | None = None, batching_window_s: float | None = None,
             api_port: int | None = None) -> FunctionHost:
        """Functions hosted in this process, with consumer groups unique to this call."""
        assert self.template is not None, "start() first"
        return FunctionHost(
            self.template,
            bootstrap=self.bootstrap,
            api_port=api_port,
            group_suffix=f"-{uuid.uuid4().hex[:8]}",
            batching_window_s=batching_window_s,
            only=only,
        )

    def stop(self) -> None:
        close_shared_producers()
        for process in self._processes:  # the front door before tansu, which waits for open connections
            stop_pid(process.pid)
            with contextlib.suppress(Exception):
                process.wait(5)
        self._processes.clear()
        os.environ.clear()
        os.environ.update(self._saved_env)
        apply_environment({})


def produce(bootstrap: str, topic: str, values: Iterable[bytes], keys: Iterable[bytes | None] | None = None,
            headers: dict[str, bytes] | None = None) -> int:
    """Produce and wait for every acknowledgement; returns how many were sent."""
    producer = Producer(client_config(bootstrap, **{"enable.idempotence": True, "linger.ms": 5}))
    values = list(values)
    key_list = list(keys) if keys is not None else [None] * len(values)
    for value, key in zip(values, key_list, strict=True):
        producer.produce(topic, value=value, key=key, headers=list((headers or {}).items()))
    if producer.flush(30):
        raise RuntimeError(f"could not produce every record to {topic}")
    return len(values)


def read_topic(bootstrap: str, topic: str, *, expected: int | None = None, timeout: float = 30.0,
               idle: float = 3.0) -> list[KafkaRecord]:
    """Every record of ``topic`` from the beginning, without a consumer group.

    Stops at ``expected`` records, at ``timeout``, or after ``idle`` seconds with nothing new
    (when ``expected`` is None). A topic that does not exist yet reads as empty until it does.
    """
    consumer = Consumer(client_config(bootstrap, **{"group.id": f"reader-{uuid.uuid4().hex}",
                                                    "enable.auto.commit": False}))
    records: list[KafkaRecord] = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    assigned = False
    try:
        while time.monotonic() < deadline:
            if not assigned:
                metadata = consumer.list_topics(topic, timeout=5).topics.get(topic)
                if metadata is None or metadata.error is not None or not metadata.partitions:
                    time.sleep(0.2)
                    continue
                consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
                assigned = True
            for message in consumer.consume(num_messages=500, timeout=0.2):
                if message.error() is None:
                    records.append(to_record(message))
                    last_new = time.monotonic()
            if expected is not None and len(records) >= expected:
                break
            if expected is None and assigned and time.monotonic() - last_new > idle:
                break
    finally:
        consumer.close()
    return records
