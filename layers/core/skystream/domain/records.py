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


@dataclass(frozen=True)
class TopicPage:
    """The newest records of a topic below a cursor, newest first (what ``GET /filters/{id}/records`` shows).

    ``before`` and ``next_before`` are cursors: per partition, the offset the page reads up to
    (exclusive). The first page has ``before`` empty (read up to each partition's end);
    ``next_before`` is where the next, older page starts, or None when nothing older is left.
    ``exists`` is False for a topic the cluster does not have (none made yet, or deleted).
    """

    topic: str
    records: list[KafkaRecord]
    next_before: dict[int, int] | None
    exists: bool = True
    complete: bool = True  # False when the cluster did not deliver every record of the range in time
