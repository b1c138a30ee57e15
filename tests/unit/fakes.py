"""In-memory fakes of ports shared by the poison tests (more tests may move theirs here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skystream.streams.lambda_event import KafkaRecord
from skystream.streams.producer import ProduceError


class RecordingProducer:
    """The producer port (``fits``, ``produce``, ``flush``), keeping what was sent in order."""

    def __init__(self, limit: int = 4_000_000, fail_flush: bool = False):
        self.limit = limit
        self.fail_flush = fail_flush
        self.sent: list[tuple[str, bytes, Any, dict[str, Any]]] = []
        self.flushes = 0

    def fits(self, value: bytes, key: bytes | None = None) -> bool:
        return len(value) + len(key or b"") <= self.limit

    def produce(self, topic: str, value: bytes, key: bytes | str | None = None,
                headers: Mapping[str, bytes | str] | None = None) -> bool:
        if not self.fits(value, key.encode() if isinstance(key, str) else key):
            return False
        self.sent.append((topic, value, key, dict(headers or {})))
        return True

    def flush(self, timeout: float = 30.0) -> int:
        self.flushes += 1
        if self.fail_flush:
            raise ProduceError("1 record(s) failed, 0 unacknowledged: broker down")
        return len(self.sent)

    def topic(self, name: str) -> list[tuple[str, bytes, Any, dict[str, Any]]]:
        return [s for s in self.sent if s[0] == name]


def records(values: list[bytes], topic: str = "alerts") -> list[KafkaRecord]:
    """One partition's records at offsets 0, 1, ... keyed k0, k1, ..."""
    return [KafkaRecord(topic, 0, i, v, key=b"k%d" % i) for i, v in enumerate(values)]
