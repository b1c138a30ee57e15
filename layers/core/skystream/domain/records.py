"""One consumed Kafka record, as every trigger (ingest, matcher, annotation trigger) and the dead-letter
topic see it: decoded from Lambda's event by :mod:`skystream.streams.lambda_event`, or built by a test."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class KafkaRecord:
    """One consumed Kafka record, decoded from the event (or built by a test)."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: dict[str, bytes] = field(default_factory=dict)
    timestamp_ms: int = 0
    timestamp_type: str = "CREATE_TIME"

    @property
    def position(self) -> str:
        """``topic-partition@offset``: how logs and errors name a record."""
        return f"{self.topic}-{self.partition}@{self.offset}"
