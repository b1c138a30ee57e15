"""The ingest service: raw alert records in, stored objects and enriched records out.

Per record: decode (bad -> dead-letter topic, counted) -> skip solar-system alerts
(counted) -> features, lite and full lightcurves -> the object's storage item, converted
and checked. Then per batch, a few requests whatever its size: the batch's full alerts go to
the archive as one S3 object (one PUT; each alert's pointer is a byte range of it), the
objects items are written newest-only (one BatchGetItem per 100 objects, one BatchWriteItem
per 25 newer items: a replayed older alert never moves an object back), and one enriched
record per alert goes to ``alerts-enriched`` keyed by diaObjectId, carrying the objects row,
the lite lightcurve and the pointer to its full alert (not the alert: a tenth of the bytes).

Record problems never raise: anything one record makes fail before the writes (decode,
values out of bounds, features, size, storage conversion) sends that record to
``alerts-dlq`` (:mod:`skystream.streams.dead_letter`) with the reason, and the batch goes
on. The writes come after every record was checked, so what fails there is the
infrastructure (a store or the broker): that raises, and the event source retries the
whole batch. Retries and replays are safe: the archive object's key is its content's hash
(the same batch rewrites the same object), the objects write keeps the newer state (the
same alert rewrites the same state, an older one writes nothing), and the writes go in
the order archive -> objects -> records, so no item points at an alert not yet archived and
no record is forwarded before its state is stored. Which failures are which is decided by
exception type (:func:`~skystream.streams.dead_letter.is_infrastructure`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from skystream.alerts.enriched import EnrichedRecord
from skystream.alerts.lightcurve import lite_and_full
from skystream.alerts.wire import BadAlert, decode_alert
from skystream.domain.bounds import OutOfBounds
from skystream.domain.objects import AlertPointer, AlertToArchive
from skystream.domain.records import KafkaRecord
from skystream.features import objects_row
from skystream.ports import ArchiveWriter, ObjectWriter, RecordProducer
from skystream.streams.dead_letter import DeadLetters, describe, is_infrastructure

T = TypeVar("T")
SIZE_CHECK_POINTER = AlertPointer(key="k" * 256, offset=2**40, length=2**40)
"""Longer than any real pointer: a record that fits the producer with it fits with its own."""


@dataclass
class IngestReport:
    received: int = 0
    enriched: int = 0
    stored: int = 0  # objects rows written (newer than what was stored)
    stale: int = 0  # older than the stored state, or than another alert of its object in the batch: forwarded, not stored
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
    archived: AlertToArchive  # what the archive keeps of it
    item: Any  # the objects item, already converted and checked


def enrich(alert: dict[str, Any], schema_version: str) -> EnrichedRecord:
    """The enriched record of one decoded alert, with its full alert at hand and no pointer yet (pure: no I/O).

    Ingest takes the full alert out (to the archive, for an alert that came as JSON) and puts its
    pointer in its place.
    """
    lite, full = lite_and_full(alert)
    return EnrichedRecord.model_construct(objects=objects_row(alert), lite=lite, alert_pointer=None, alert=full,
                                          schema_version=schema_version)


class IngestService:
    """``producer`` sends enriched records and dead letters (one per container, sized for enriched
    records), ``objects`` and ``archive`` store each object's state and the batch's full alerts."""

    def __init__(self, producer: RecordProducer, objects: ObjectWriter, archive: ArchiveWriter, *,
                 enriched_topic: str, dlq_topic: str):
        self.producer = producer
        self.objects = objects
        self.archive = archive
        self.enriched_topic = enriched_topic
        self.dlq_topic = dlq_topic
        self.dead_letters = DeadLetters(producer, dlq_topic)

    def process(self, records: Sequence[KafkaRecord]) -> IngestReport:
        report = IngestReport(received=len(records))
        prepared: list[Prepared] = []
        for record in records:
            item = self._prepare(record, report)
            if item is not None:
                prepared.append(item)
        if prepared:
            self._store(prepared, report)
        for item in prepared:
            self.producer.produce(
                self.enriched_topic, item.enriched.to_bytes(), key=str(item.enriched.dia_object_id),
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
        wire = decoded.without_cutouts  # the archive keeps the record as it came, less its cutouts
        enriched = self._step(record, "features", report, lambda: enrich(decoded.alert, decoded.schema_version))
        if enriched is None:
            return None
        archived = AlertToArchive(enriched.schema_version, wire=wire, full=enriched.alert if wire is None else None)
        enriched.alert = None  # the full alert goes to the archive, not in the record
        value = self._step(record, "features", report, lambda: enriched.to_bytes(SIZE_CHECK_POINTER))
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
        return Prepared(record, enriched, archived, item)

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
        """Archive every alert of the batch (one object), then write each object's newest item, newer only.

        Every alert is archived, the stale ones too, so each enriched record points at its own
        alert (a ``kafka_full`` record of an older alert is that alert); only the objects items
        are newest-only.
        """
        pointers = self.archive.put_batch([p.archived for p in prepared])
        if len(pointers) != len(prepared):
            raise RuntimeError(f"the archive returned {len(pointers)} pointers for {len(prepared)} alerts")
        for p, pointer in zip(prepared, pointers, strict=True):
            p.enriched.alert_pointer = pointer
        written = self.objects.put_newest([(p.item, p.enriched.alert_pointer) for p in prepared])
        report.stored += len(written)
        report.stale += len(prepared) - len(written)
