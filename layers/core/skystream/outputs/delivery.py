"""Putting one filter's records on its topic, record by record, within the limits.

A record larger than the producer's size limit, or one that would take the filter past
its daily byte quota, is dropped and counted; the records after it still go. Each
record is keyed by its diaObjectId (so one object's records stay in order) and carries
headers naming the filter and the alert schema version it came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from skystream.domain.filters import StoredFilter
from skystream.ports import QuotaCounter, RecordProducer

HEADER_FILTER_ID = "filter_id"
HEADER_FILTER_VERSION = "filter_version"
HEADER_SCHEMA_VERSION = "schema_version"


@dataclass(frozen=True)
class Outgoing:
    """One encoded record ready for a filter's topic."""

    dia_object_id: int
    value: bytes
    schema_version: str


@dataclass
class DeliveryCounts:
    produced: int = 0
    bytes_produced: int = 0
    dropped_oversize: int = 0
    dropped_quota: int = 0


def deliver(
    f: StoredFilter,
    records: Iterable[Outgoing],
    *,
    producer: RecordProducer,
    quota: QuotaCounter,
    day: dt.date | None = None,
) -> DeliveryCounts:
    """Queue ``records`` on ``f.topic`` (the caller flushes the producer). Returns what went and what was dropped."""
    if not f.topic:
        raise ValueError(f"filter {f.filter_id} has no Kafka topic (output is {f.output})")
    day = day or dt.datetime.now(dt.UTC).date()
    counts = DeliveryCounts()
    used: int | None = None
    for record in records:
        key = str(record.dia_object_id).encode()
        size = len(record.value) + len(key)
        if not producer.fits(record.value, key):
            counts.dropped_oversize += 1
            continue
        if used is None:
            used = quota.used(f.filter_id, day)
        if used + size > f.byte_quota:
            counts.dropped_quota += 1
            continue
        headers = {HEADER_FILTER_ID: f.filter_id, HEADER_FILTER_VERSION: str(f.version)}
        if record.schema_version:  # unknown only for objects stored before versions were kept
            headers[HEADER_SCHEMA_VERSION] = record.schema_version
        if not producer.produce(f.topic, record.value, key=key, headers=headers):
            counts.dropped_oversize += 1
            continue
        used += size
        counts.produced += 1
        counts.bytes_produced += size
    if counts.bytes_produced:
        quota.add(f.filter_id, day, counts.bytes_produced)
    return counts
