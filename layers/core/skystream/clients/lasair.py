"""Reading a filter's topic, the way Lasair's sample program does, logged in with your stream credentials.

``lasair_consumer(kafka_server, group_id, topic, username=..., password=...)`` returns a subscribed
``confluent_kafka.Consumer``: Lasair's three positional arguments, then the SASL/SCRAM-SHA-512
username and password ``POST /streams/credentials`` gave you (over TLS, ``SASL_SSL``, unless
``security_protocol`` says otherwise; the local stack has no TLS: ``SASL_PLAINTEXT``). Without
credentials the consumer connects anonymously, as Lasair's does, which skystream's brokers refuse.

Before it returns, it makes one metadata request and turns what librdkafka would otherwise retry
silently for ever (``poll`` just returns None) into :class:`~skystream.domain.errors.StreamAccessRefused`,
within ``connect_timeout`` seconds at most: no credentials, a wrong or revoked password, or no
broker at that address.

Consumer groups: with skystream credentials you may use the groups whose id starts with
``<username>-`` (the ACLs say so, docs/streams.md); a ``group_id`` without that prefix gets it
(``Susan3456`` becomes ``user-12-Susan3456``), the same on every run, so the group resumes where
it stopped. A ``group_id`` the broker has never seen starts at the earliest record still kept
(topics keep 7 days); offsets are committed automatically as records are consumed; call
``consumer.close()`` when done so the last ones are committed too.

skystream creates a Kafka filter's topic when the filter is saved, so an empty topic just gives no
records. ``poll`` returning a message whose ``error()`` is ``UNKNOWN_TOPIC_OR_PART`` means there is
no such topic (a misspelt name, or a filter renamed, deleted or switched to a non-Kafka output);
on Lasair it also means "no match yet".
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException

from skystream.domain.errors import StreamAccessRefused
from skystream.domain.stream_access import group_prefix, user_of

MECHANISM = "SCRAM-SHA-512"
HOW_TO_GET = "POST /streams/credentials issues them (or `skystream users kafka-credentials USER_ID`)"


class _Errors:
    """librdkafka's error callback: keeps the last few errors (it reports a refused login only here)."""

    def __init__(self, chained: Callable[[KafkaError], Any] | None):
        self.recent: collections.deque[KafkaError] = collections.deque(maxlen=20)
        self.chained = chained

    def __call__(self, error: KafkaError) -> None:
        self.recent.append(error)
        if self.chained is not None:
            self.chained(error)

    def first(self, code: int) -> KafkaError | None:
        return next((e for e in self.recent if e.code() == code), None)


def consumer_group(group_id: str, username: str | None) -> str:
    """The group id used: a skystream user's groups start with ``<username>-`` (their ACL's prefix)."""
    if username is None or user_of(username) is None:
        return group_id
    prefix = group_prefix(username)
    return group_id if group_id.startswith(prefix) else prefix + group_id


def lasair_consumer(kafka_server: str, group_id: str, topic: str, username: str | None = None,
                    password: str | None = None, *, security_protocol: str = "SASL_SSL",
                    connect_timeout: float = 10.0, **config: Any) -> Consumer:
    """A consumer of ``topic`` in group ``group_id``, logged in when credentials are given (extra librdkafka
    settings via ``config``). Raises StreamAccessRefused when the cluster refuses it or does not answer."""
    if (username is None) != (password is None):
        raise StreamAccessRefused(f"give both username and password (your stream credentials: {HOW_TO_GET})")
    settings: dict[str, Any] = {
        "bootstrap.servers": kafka_server,
        "group.id": consumer_group(group_id, username),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "session.timeout.ms": 6000,
        "topic.metadata.refresh.interval.ms": 5000,
    }
    if username is not None:
        settings |= {"security.protocol": security_protocol, "sasl.mechanism": MECHANISM,
                     "sasl.username": username, "sasl.password": password}
    errors = _Errors(config.pop("error_cb", None))
    settings.update(config)
    settings["error_cb"] = errors
    consumer = Consumer(settings)
    try:
        check_access(consumer, kafka_server, username, errors, timeout=connect_timeout)
    except BaseException:
        consumer.close()
        raise
    consumer.subscribe([topic])
    return consumer


def check_access(consumer: Consumer, kafka_server: str, username: str | None, errors: _Errors, *,
                 timeout: float) -> None:
    """One metadata request, retried until ``timeout``; a refused login or a closed door raises at once."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            consumer.list_topics(timeout=min(1.0, max(deadline - time.monotonic(), 0.1)))
            return
        except KafkaException as exc:
            last = exc
        consumer.poll(0)  # librdkafka hands its errors to the callback from poll()
        refused = errors.first(KafkaError._AUTHENTICATION)
        if refused is not None:
            raise StreamAccessRefused(
                f"Kafka at {kafka_server} refused the login of {username!r}: the username or password is wrong, or "
                f"the credentials were revoked or replaced by newer ones ({HOW_TO_GET}). librdkafka said: "
                f"{refused.str()}")
        if username is None and errors.first(KafkaError._ALL_BROKERS_DOWN) is not None:
            raise StreamAccessRefused(
                f"Kafka at {kafka_server} closed the connection: skystream's brokers need your stream credentials "
                f"(username= and password=, or --username and $SKYSTREAM_KAFKA_PASSWORD; {HOW_TO_GET}), "
                "or nothing listens at that address")
        if time.monotonic() >= deadline:
            raise StreamAccessRefused(
                f"Kafka at {kafka_server} did not answer within {timeout:g} s ({last}): check the address and the "
                f"security protocol, and that your network reaches it")
