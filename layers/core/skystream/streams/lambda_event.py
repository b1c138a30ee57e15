"""The JSON event Lambda sends for a Kafka event source, built and read in one place.

The local event-source runner builds it with :func:`build_kafka_event`; handlers read it
with :func:`records_from_event`. Keeping both sides here makes the contract testable:
what the runner sends is exactly what powertools' ``KafkaEvent`` and
``KafkaMskEventModel`` parse in AWS.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from aws_lambda_powertools.utilities.data_classes import KafkaEvent

from skystream.domain.records import KafkaRecord

EventSource = Literal["aws:kafka", "SelfManagedKafka"]


def _encode_record(record: KafkaRecord) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp_ms,
        "timestampType": record.timestamp_type,
        "value": base64.b64encode(record.value).decode("ascii"),
        "headers": [{name: list(value)} for name, value in record.headers.items()],
    }
    if record.key is not None:
        encoded["key"] = base64.b64encode(record.key).decode("ascii")
    return encoded


def build_kafka_event(
    records: Iterable[KafkaRecord],
    *,
    bootstrap_servers: str,
    event_source: EventSource = "aws:kafka",
    event_source_arn: str = "arn:aws:kafka:us-east-1:000000000000:cluster/skystream-local/local-0",
) -> dict[str, Any]:
    """The event Lambda would deliver for this batch: records grouped under ``"topic-partition"``."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(f"{record.topic}-{record.partition}", []).append(_encode_record(record))
    event: dict[str, Any] = {
        "eventSource": event_source,
        "bootstrapServers": bootstrap_servers,
        "records": grouped,
    }
    if event_source == "aws:kafka":
        event["eventSourceArn"] = event_source_arn
    return event


def records_from_event(event: Mapping[str, Any]) -> list[KafkaRecord]:
    """Every record of a Kafka event, in partition order then offset order, decoded to bytes."""
    if not event.get("records"):
        return []
    parsed = KafkaEvent(dict(event))
    return [
        KafkaRecord(
            topic=r.topic,
            partition=r.partition,
            offset=r.offset,
            value=r.decoded_value,
            key=r.decoded_key,
            headers=dict(r.decoded_headers),
            timestamp_ms=r.timestamp,
            timestamp_type=r.timestamp_type,
        )
        for r in parsed.records
    ]
