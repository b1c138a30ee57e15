"""Producing with no silent loss: idempotent, size-checked, and a flush that raises.

A handler produces its whole batch, then calls :meth:`Producer.flush`; if any record
was not acknowledged the flush raises :class:`ProduceError`, the handler fails, and
the event source retries the batch. Oversize records are refused before ``produce``
(tansu does not enforce a broker-side limit) and reported to the caller, who decides
whether that is a drop-and-count (user outputs) or an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import confluent_kafka

from skystream.config import settings
from skystream.streams.config import client_config

DEFAULT_MAX_RECORD_BYTES = 1_000_000


class ProduceError(RuntimeError):
    """Records were not acknowledged by the broker; the batch must be retried."""


@dataclass
class _DeliveryLog:
    delivered: int = 0
    failures: list[str] = field(default_factory=list)

    def callback(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failures.append(f"{msg.topic()}: {err}")
        else:
            self.delivered += 1


class Producer:
    """A thin, reusable wrapper over ``confluent_kafka.Producer`` (one per container)."""

    def __init__(self, config: Mapping[str, Any] | None = None, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES):
        self.max_record_bytes = max_record_bytes
        conf = client_config(
            **{
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "zstd",
                "message.max.bytes": max_record_bytes + 64_000,
                "message.timeout.ms": 30_000,
            }
        )
        conf.update(config or {})
        self._producer = confluent_kafka.Producer(conf)
        self._log = _DeliveryLog()

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
        self._producer.poll(0)
        return True

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for every queued record; return how many were delivered since the last flush.

        Raises :class:`ProduceError` when any record failed or is still outstanding.
        """
        remaining = self._producer.flush(timeout)
        log, self._log = self._log, _DeliveryLog()
        if remaining or log.failures:
            detail = "; ".join(log.failures[:5])
            raise ProduceError(f"{len(log.failures)} record(s) failed, {remaining} unacknowledged: {detail}")
        return log.delivered


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
