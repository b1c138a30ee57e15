"""A producer the broker has forgotten is replaced: the failing batch raises, the retry goes through a new client.

The librdkafka client is faked here (a factory the wrapper calls for each client it makes);
tests/integration/test_crash_recovery.py restarts a real broker under a real one.
"""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from fakes import FakeKafkaClient

from skystream.streams.producer import ProduceError, Producer, breaks_client


class Factory:
    """Makes the clients in ``plan`` order (keyword arguments for FakeKafkaClient), then healthy ones."""

    def __init__(self, *plan: dict[str, Any]):
        self.plan = list(plan)
        self.made: list[FakeKafkaClient] = []

    def __call__(self, conf: dict[str, Any]) -> FakeKafkaClient:
        client = FakeKafkaClient(conf, **(self.plan.pop(0) if self.plan else {}))
        self.made.append(client)
        return client


def _batch(producer: Producer, n: int = 3) -> int:
    for i in range(n):
        producer.produce("alerts-enriched", b"v%d" % i, key=str(i))
    return producer.flush(1)


@pytest.mark.parametrize("code", [KafkaError.UNKNOWN_PRODUCER_ID, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
                                  KafkaError._MSG_TIMED_OUT, KafkaError._FATAL])
def test_a_delivery_error_that_condemns_the_client_replaces_it_and_the_retry_works(code: int) -> None:
    factory = Factory({"delivery_error": KafkaError(code)})
    producer = Producer({"bootstrap.servers": "127.0.0.1:1"}, client_factory=factory)
    with pytest.raises(ProduceError, match="replaced"):
        _batch(producer)
    assert len(factory.made) == 2 and factory.made[0].purged and producer.rebuilds == 1
    assert _batch(producer) == 3  # the retried batch goes through the fresh client
    assert len(factory.made) == 2  # and that one is kept


def test_a_fatal_error_from_produce_replaces_the_client_and_raises_for_a_retry() -> None:
    fatal = KafkaError(KafkaError._FATAL, "idempotent producer fenced", fatal=True)
    factory = Factory({"produce_error": fatal})
    producer = Producer({"bootstrap.servers": "127.0.0.1:1"}, client_factory=factory)
    with pytest.raises(ProduceError, match="_FATAL"):
        _batch(producer)
    assert producer.rebuilds == 1
    assert _batch(producer) == 3


def test_a_fatal_error_reported_by_the_error_callback_replaces_the_client_at_the_next_flush() -> None:
    factory = Factory()
    producer = Producer({"bootstrap.servers": "127.0.0.1:1"}, client_factory=factory)
    factory.made[0].conf["error_cb"](KafkaError(KafkaError.INVALID_PRODUCER_EPOCH, fatal=True))
    assert _batch(producer) == 3  # what was acknowledged counts...
    assert producer.rebuilds == 1 and len(factory.made) == 2  # ...and the condemned client is gone
    factory.made[1].conf["error_cb"](KafkaError(KafkaError._TRANSPORT))  # transient: librdkafka reconnects
    assert _batch(producer) == 3 and producer.rebuilds == 1


def test_records_still_unacknowledged_after_the_flush_replace_the_client() -> None:
    factory = Factory({"unacknowledged": 2})
    producer = Producer({"bootstrap.servers": "127.0.0.1:1"}, client_factory=factory)
    with pytest.raises(ProduceError, match="2 unacknowledged"):
        _batch(producer)
    assert factory.made[0].purged and producer.rebuilds == 1
    assert _batch(producer) == 3


def test_a_record_level_failure_fails_the_batch_but_keeps_the_client() -> None:
    factory = Factory({"delivery_error": KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)})
    producer = Producer({"bootstrap.servers": "127.0.0.1:1"}, client_factory=factory)
    with pytest.raises(ProduceError, match="3 record"):
        _batch(producer)
    assert producer.rebuilds == 0 and len(factory.made) == 1
    with pytest.raises(KafkaException):  # any other produce error is the caller's, as before
        factory.made[0].produce_error = KafkaError(KafkaError._UNKNOWN_TOPIC)
        producer.produce("gone", b"v")
    assert producer.rebuilds == 0


def test_which_errors_condemn_the_client() -> None:
    assert breaks_client(KafkaError(KafkaError.UNKNOWN_PRODUCER_ID))
    assert breaks_client(KafkaError(KafkaError.REQUEST_TIMED_OUT, fatal=True))
    assert not breaks_client(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    assert not breaks_client(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
