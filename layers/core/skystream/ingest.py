"""The ingest service: raw alert records in, stored objects and enriched records out.

Per record: decode (bad -> dead-letter topic, counted) -> skip solar-system alerts
(counted) -> features, lite and full lightcurves -> conditional upsert of the object
(a replayed older alert never moves it back) and, when that wrote, the full alert to
the archive -> one enriched record to ``alerts-enriched`` keyed by diaObjectId.
Data problems never raise: they go to ``alerts-dlq`` with the reason in the ``error``
header and the original bytes as value. Infrastructure problems (a store or the broker
failing) do raise, so the event source retries the whole batch; every step is
idempotent, so a retry is safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from skystream.alerts.enriched import EnrichedRecord
from skystream.alerts.lightcurve import lite_and_full
from skystream.alerts.wire import BadAlert, decode_alert
from skystream.config import settings
from skystream.features import objects_row
from skystream.streams.lambda_event import KafkaRecord
from skystream.streams.producer import shared_producer

# alerts-enriched is internal and compresses ~10x (JSON, mostly nulls): allow big records.
ENRICHED_MAX_RECORD_BYTES = 4_000_000
STORE_WORKERS = 8


class ObjectWriter(Protocol):
    def upsert_if_newer(self, row: dict[str, Any], lite: dict[str, Any], *, schema_version: str = "",
                        dia_source_id: int | None = None) -> bool: ...


class ArchiveWriter(Protocol):
    def put(self, dia_object_id: int, full_alert: dict[str, Any], schema_version: str) -> None: ...


class RecordProducer(Protocol):
    def fits(self, value: bytes, key: bytes | None = None) -> bool: ...
    def produce(self, topic: str, value: bytes, key: bytes | str | None = None,
                headers: dict[str, bytes | str] | None = None) -> bool: ...
    def flush(self, timeout: float = 30.0) -> int: ...


@dataclass
class IngestReport:
    received: int = 0
    enriched: int = 0
    stored: int = 0  # objects rows written (newer than what was stored)
    stale: int = 0  # older than the stored state: forwarded, not stored
    solar_system: int = 0
    dead_lettered: int = 0
    reasons: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, int]:
        return {
            "AlertsReceived": self.received,
            "AlertsEnriched": self.enriched,
            "ObjectsStored": self.stored,
            "AlertsStale": self.stale,
            "SolarSystemSkipped": self.solar_system,
            "AlertsDeadLettered": self.dead_lettered,
        }


@dataclass
class Prepared:
    """One good alert, ready to store and forward."""

    record: KafkaRecord
    enriched: EnrichedRecord
    value: bytes
    dia_source_id: int | None


def enrich(alert: dict[str, Any], schema_version: str) -> EnrichedRecord:
    """The enriched record of one decoded alert (pure: no I/O)."""
    lite, full = lite_and_full(alert)
    return EnrichedRecord.model_construct(objects=objects_row(alert), lite=lite, alert=full, schema_version=schema_version)


class IngestService:
    def __init__(self, producer: RecordProducer, objects: ObjectWriter, archive: ArchiveWriter, *,
                 enriched_topic: str, dlq_topic: str, workers: int = STORE_WORKERS):
        self.producer = producer
        self.objects = objects
        self.archive = archive
        self.enriched_topic = enriched_topic
        self.dlq_topic = dlq_topic
        self.workers = workers

    def process(self, records: Sequence[KafkaRecord]) -> IngestReport:
        report = IngestReport(received=len(records))
        prepared: list[Prepared] = []
        for record in records:
            item = self._prepare(record, report)
            if item is not None:
                prepared.append(item)
        self._store(prepared, report)
        for item in prepared:
            self.producer.produce(
                self.enriched_topic, item.value, key=str(item.enriched.dia_object_id),
                headers={"schema_version": item.enriched.schema_version},
            )
            report.enriched += 1
        self.producer.flush()  # raises ProduceError: the batch is retried
        return report

    def _prepare(self, record: KafkaRecord, report: IngestReport) -> Prepared | None:
        try:
            decoded = decode_alert(record.value)
        except BadAlert as exc:
            self._dead_letter(record, exc.reason, "decode", report)
            return None
        if decoded.is_solar_system:
            report.solar_system += 1
            return None
        try:
            enriched = enrich(decoded.alert, decoded.schema_version)
            value = enriched.to_bytes()
        except Exception as exc:  # a schema-valid alert the features cannot digest: keep it, say why
            self._dead_letter(record, f"features failed: {type(exc).__name__}: {exc}", "features", report)
            return None
        if not self.producer.fits(value, str(enriched.dia_object_id).encode()):
            self._dead_letter(record, f"enriched record of {len(value)} bytes is over the producer's size limit",
                              "size", report)
            return None
        return Prepared(record, enriched, value, decoded.alert.get("diaSourceId"))

    def _dead_letter(self, record: KafkaRecord, reason: str, stage: str, report: IngestReport) -> None:
        headers = {"error": reason[:1000], "stage": stage, "source": record.position}
        if not self.producer.produce(self.dlq_topic, record.value, key=record.key, headers=headers):
            headers["error"] += " (original value too large to keep; dropped)"
            self.producer.produce(self.dlq_topic, b"", key=record.key, headers=headers)
        report.dead_lettered += 1
        report.reasons.append(f"{record.position}: {reason}")

    def _store(self, prepared: list[Prepared], report: IngestReport) -> None:
        """Per object, oldest alert first; objects in parallel (the stores are network-bound)."""
        by_object: dict[int, list[Prepared]] = {}
        for item in prepared:
            by_object.setdefault(item.enriched.dia_object_id, []).append(item)

        def store_object(items: list[Prepared]) -> tuple[int, int]:
            stored = stale = 0
            items.sort(key=lambda p: (p.enriched.objects["lastDiaSourceMjdTai"], p.dia_source_id or 0))
            for item in items:
                e = item.enriched
                if self.objects.upsert_if_newer(e.objects, e.lite, schema_version=e.schema_version,
                                                dia_source_id=item.dia_source_id):
                    self.archive.put(e.dia_object_id, e.alert, e.schema_version)
                    stored += 1
                else:
                    stale += 1
            return stored, stale

        groups = list(by_object.values())
        if self.workers <= 1 or len(groups) <= 1:
            results = [store_object(g) for g in groups]
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(groups))) as pool:
                results = list(pool.map(store_object, groups))  # re-raises the first storage error
        report.stored += sum(r[0] for r in results)
        report.stale += sum(r[1] for r in results)


def default_service() -> IngestService:
    """The service wired to this environment's broker, table and bucket (one producer per container)."""
    from skystream.storage.archive import AlertArchive
    from skystream.storage.objects import ObjectStore

    cfg = settings()
    return IngestService(
        shared_producer(max_record_bytes=ENRICHED_MAX_RECORD_BYTES),
        ObjectStore(),
        AlertArchive(),
        enriched_topic=cfg.topic_enriched,
        dlq_topic=cfg.topic_dlq,
    )


def ingest_records(records: Sequence[KafkaRecord], service: IngestService | None = None) -> IngestReport:
    return (service or default_service()).process(records)
