"""The ingest service: raw alert records in, stored objects and enriched records out.

Per record: decode (bad -> dead-letter topic, counted) -> skip solar-system alerts
(counted) -> features, lite and full lightcurves -> the object's storage item, converted
and checked -> conditional upsert of the object (a replayed older alert never moves it
back) and, when that wrote, the full alert to the archive -> one enriched record to
``alerts-enriched`` keyed by diaObjectId.

Record problems never raise: anything one record makes fail before the writes (decode,
values out of bounds, features, size, storage conversion) sends that record to
``alerts-dlq`` (:mod:`skystream.streams.dead_letter`) with the reason, and the batch goes
on. The writes come after every record was checked, so what fails there is the
infrastructure (a store or the broker): that raises, and the event source retries the
whole batch; every step is idempotent, so a retry is safe. Which is which is decided by
exception type (:func:`~skystream.streams.dead_letter.is_infrastructure`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from skystream.alerts.enriched import EnrichedRecord
from skystream.alerts.lightcurve import lite_and_full
from skystream.alerts.wire import BadAlert, decode_alert
from skystream.domain.bounds import OutOfBounds
from skystream.domain.records import KafkaRecord
from skystream.features import objects_row
from skystream.ports import ArchiveWriter, ObjectWriter, RecordProducer
from skystream.streams.dead_letter import DeadLetters, describe, is_infrastructure

STORE_WORKERS = 8
T = TypeVar("T")


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
    item: Any  # the objects item, already converted and checked


def enrich(alert: dict[str, Any], schema_version: str) -> EnrichedRecord:
    """The enriched record of one decoded alert (pure: no I/O)."""
    lite, full = lite_and_full(alert)
    return EnrichedRecord.model_construct(objects=objects_row(alert), lite=lite, alert=full, schema_version=schema_version)


class IngestService:
    """``producer`` sends enriched records and dead letters (one per container, sized for enriched
    records), ``objects`` and ``archive`` store each object's state and full alert."""

    def __init__(self, producer: RecordProducer, objects: ObjectWriter, archive: ArchiveWriter, *,
                 enriched_topic: str, dlq_topic: str, workers: int = STORE_WORKERS):
        self.producer = producer
        self.objects = objects
        self.archive = archive
        self.enriched_topic = enriched_topic
        self.dlq_topic = dlq_topic
        self.dead_letters = DeadLetters(producer, dlq_topic)
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
        decoded = self._step(record, "decode", report, lambda: decode_alert(record.value))
        if decoded is None:
            return None
        if decoded.is_solar_system:
            report.solar_system += 1
            return None
        # a schema-valid alert the features cannot digest: keep it on the DLQ, say why
        enriched = self._step(record, "features", report, lambda: enrich(decoded.alert, decoded.schema_version))
        if enriched is None:
            return None
        value = self._step(record, "features", report, enriched.to_bytes)
        if value is None:
            return None
        if not self.producer.fits(value, str(enriched.dia_object_id).encode()):
            self._reject(record, f"enriched record of {len(value)} bytes is over the producer's size limit",
                         "size", report)
            return None
        dia_source_id = decoded.alert.get("diaSourceId")
        item = self._step(record, "storage", report, lambda: self.objects.item(
            enriched.objects, enriched.lite, schema_version=enriched.schema_version, dia_source_id=dia_source_id))
        if item is None:
            return None
        return Prepared(record, enriched, value, dia_source_id, item)

    def _step(self, record: KafkaRecord, stage: str, report: IngestReport, work: Callable[[], T]) -> T | None:
        """``work()`` for one record; what the record makes fail sends it to the DLQ (None), the rest raises."""
        try:
            return work()
        except Exception as exc:
            if is_infrastructure(exc):
                raise  # a registry, store or broker failure: retry the batch, the record is not bad
            known = isinstance(exc, BadAlert | OutOfBounds)  # their reason already says what and where
            reason = exc.reason if known else f"{stage} failed: {describe(exc)}"
            self._reject(record, reason, stage, report)
            return None

    def _reject(self, record: KafkaRecord, reason: str, stage: str, report: IngestReport) -> None:
        report.reasons.append(self.dead_letters.send(record, reason, stage))
        report.dead_lettered += 1

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
                if self.objects.put_if_newer(item.item):
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
