"""Producing with no silent loss: idempotent, size-checked, and a flush that raises.

A handler produces its whole batch, then calls :meth:`Producer.flush`; if any record
was not acknowledged the flush raises :class:`ProduceError`, the handler fails, and
the event source retries the batch. Oversize records are refused before ``produce``
(tansu does not enforce a broker-side limit) and reported to the caller, who decides
whether that is a drop-and-count (user outputs) or an error.

A producer the broker has forgotten is replaced, not kept. A restarted broker (tansu's
memory storage, or a broker that expired the producer id) no longer knows the
idempotent producer's id: librdkafka then bumps the epoch locally and retries until
every record times out (or, on other paths, raises a fatal error), and a cached client
would fail every batch until the process restarts. So when a flush fails with a
fatal error, an idempotence error (``UNKNOWN_PRODUCER_ID``,
``OUT_OF_ORDER_SEQUENCE_NUMBER``, ``INVALID_PRODUCER_EPOCH``) or a timeout, or
``produce`` raises a fatal error, the wrapper drops its librdkafka client and makes a
fresh one (a new producer id): that batch still raises and is retried, and the retry
goes through the new client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import confluent_kafka
from aws_lambda_powertools import Logger
from confluent_kafka import KafkaError, KafkaException

from skystream.config import settings
from skystream.streams.config import client_config

DEFAULT_MAX_RECORD_BYTES = 1_000_000

log = Logger(child=True)

# Delivery errors that say the client, not the record, is broken: the broker forgot its
# producer id, its sequence numbers or epoch no longer match, or nothing was acknowledged
# in time (what librdkafka reports when it keeps retrying a forgotten producer id).
CLIENT_BROKEN_CODES = frozenset({
    KafkaError._FATAL,
    KafkaError.UNKNOWN_PRODUCER_ID,
    KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
    KafkaError.INVALID_PRODUCER_EPOCH,
    KafkaError._MSG_TIMED_OUT,
    KafkaError._TIMED_OUT,
})

ClientFactory = Callable[[dict[str, Any]], Any]


def breaks_client(error: KafkaError) -> bool:
    """True when ``error`` means the producer client must be replaced (see the module docstring)."""
    return bool(error.fatal()) or error.code() in CLIENT_BROKEN_CODES


class ProduceError(RuntimeError):
    """Records were not acknowledged by the broker; the batch must be retried."""


@dataclass
class _DeliveryLog:
    delivered: int = 0
    failures: list[str] = field(default_factory=list)
    client_broken: str | None = None  # the first failure that condemns the client, if any

    def callback(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failures.append(f"{msg.topic()}: {err}")
            if self.client_broken is None and breaks_client(err):
                self.client_broken = err.name()
        else:
            self.delivered += 1


class Producer:
    """A thin, reusable wrapper over ``confluent_kafka.Producer`` (one per container)."""

    def __init__(self, config: Mapping[str, Any] | None = None, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
                 client_factory: ClientFactory = confluent_kafka.Producer):
        self.max_record_bytes = max_record_bytes
        self._settings: dict[str, Any] = {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "zstd",
            "message.max.bytes": max_record_bytes + 64_000,
            "message.timeout.ms": 30_000,
            **(config or {}),
        }
        self._client_factory = client_factory
        self.rebuilds = 0  # how many times the client was replaced (see the module docstring)
        self._fatal_error: str | None = None  # set by librdkafka's error callback
        self._producer = self._new_client()
        self._log = _DeliveryLog()

    def _new_client(self) -> Any:
        """A librdkafka client from the configuration as it is now: a replaced client reads the
        credentials again, so a rotated SCRAM secret (past its cache age) is what it logs in with."""
        conf = client_config(**self._settings)
        conf["error_cb"] = self._on_client_error
        self._fatal_error = None
        return self._client_factory(conf)

    def _on_client_error(self, error: KafkaError) -> None:
        """librdkafka's error callback: a fatal error condemns the client (its next flush replaces it)."""
        if error.fatal():
            self._fatal_error = error.name()
            log.error("Kafka producer: fatal error %s; the client will be replaced", error)
        else:  # transient (a broker down, a reconnect): librdkafka retries by itself
            log.info("Kafka producer: %s", error)

    def _replace_client(self, reason: str) -> None:
        """Drop the librdkafka client (discarding what it still holds) and make a fresh one."""
        old = self._producer
        try:
            old.purge()
            old.poll(0)  # serve the purged records' callbacks into the log that is being discarded
        except (KafkaException, RuntimeError) as exc:
            log.debug("Kafka producer: purging the old client failed: %s", exc)
        self._producer = self._new_client()
        self.rebuilds += 1
        log.warning("Kafka producer: replaced its client after %s; the failed batch is retried with a new producer id",
                    reason)

    def fits(self, value: bytes, key: bytes | None = None) -> bool:
        return len(value) + len(key or b"") <= self.max_record_bytes

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | str | None = None,
        headers: Mapping[str, bytes | str] | None = None,
    ) -> bool:
        """Queue one record. Returns False (and queues nothing) when it is over the size limit."""
        key_bytes = key.encode() if isinstance(key, str) else key
        if not self.fits(value, key_bytes):
            return False
        header_list = [(k, v.encode() if isinstance(v, str) else v) for k, v in (headers or {}).items()]
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key_bytes, headers=header_list, on_delivery=self._log.callback
                )
                break
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let deliveries drain, then try again
            except KafkaException as exc:
                error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if error is None or not breaks_client(error):
                    raise
                self._log = _DeliveryLog()  # this batch is abandoned: it will be retried whole
                self._replace_client(f"{error.name()} while producing to {topic}")
                raise ProduceError(f"producing to {topic} failed with {error.name()} ({error.str()}); "
                                   "the producer was replaced: retry the batch") from exc
        self._producer.poll(0)
        return True

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for every queued record; return how many were delivered since the last flush.

        Raises :class:`ProduceError` when any record failed or is still outstanding.
        """
        remaining = self._producer.flush(timeout)
        deliveries, self._log = self._log, _DeliveryLog()
        broken = deliveries.client_broken or self._fatal_error or ("records unacknowledged" if remaining else None)
        if broken:
            self._replace_client(broken)
        if remaining or deliveries.failures:
            detail = "; ".join(deliveries.failures[:5])
            replaced = f" (the producer was replaced after {broken}: the retry uses a new one)" if broken else ""
            raise ProduceError(
                f"{len(deliveries.failures)} record(s) failed, {remaining} unacknowledged{replaced}: {detail}"
            )
        return deliveries.delivered


_CREATED: list[Producer] = []


@lru_cache(maxsize=8)
def _producer_for(bootstrap_servers: str, auth: str, max_record_bytes: int,
                  config: tuple[tuple[str, Any], ...]) -> Producer:
    producer = Producer(dict(config), max_record_bytes=max_record_bytes)
    _CREATED.append(producer)
    return producer


def shared_producer(*, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
                    config: Mapping[str, Any] | None = None) -> Producer:
    """The container's producer of this kind (created on first use; a changed broker setting gets a new one).

    Each kind (size limit, extra librdkafka settings) is made once per broker and kept where
    :func:`close_shared_producers` flushes and drops it, so no client outlives its broker.
    """
    cfg = settings()
    return _producer_for(cfg.kafka_bootstrap_servers, cfg.kafka_auth, max_record_bytes,
                         tuple(sorted((config or {}).items())))


def close_shared_producers() -> None:
    """Flush and drop the cached producers (before their broker goes away, or between tests)."""
    for producer in list(_CREATED):
        producer._producer.flush(5)
    _CREATED.clear()
    _producer_for.cache_clear()


def output_producer() -> Producer:
    """The container's producer for users' topics.

    It never creates a topic by producing to it (librdkafka's producer default would, on a
    broker that allows it): a filter deleted a moment ago must not get its topic back. A
    record for a topic that is gone fails the flush, the batch is retried, and by then the
    deleted filter is no longer in the active list.
    """
    return shared_producer(config={"allow.auto.create.topics": False})
