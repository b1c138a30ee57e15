"""The history writer: one batch of ``alerts-enriched`` records -> one Parquet file per (table, night).

Per batch (the trigger's long batching window makes batches of up to 10,000 records, so files are
big): decode each enriched record; read the full alerts by pointer from the archive, batched (the
archive holds one object per ingest batch, so a batch of pointers is a few ranged GETs); build the rows
of the three tables (``skystream.history.rows``); write one file per (table, night) named after the
batch (``{topic}-{partition}-{first offset}-{last offset}``, one segment per partition), so a batch
delivered twice overwrites its own files and never leaves a second copy.

A record that is not an enriched record, whose objects row could not be stored, or whose full alert
is not in the archive goes to the dead-letter topic (``stage=history``) with why; the rest of the batch
is written. A failure of the infrastructure (S3, the broker) raises: the trigger retries the batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from skystream.domain.records import KafkaRecord
from skystream.history.rows import BatchRows, UnplaceableAlert, alert_rows
from skystream.history.schema import DETECTIONS, FORCED_PHOTOMETRY, OBJECTS_HISTORY
from skystream.ports import FullAlertSource, HistoryWriter
from skystream.streams.dead_letter import DeadLetters, describe, is_infrastructure, read_enriched

STAGE = "history"
MAX_NAME_CHARS = 200


def batch_name(records: Sequence[KafkaRecord]) -> str:
    """The files' name for this batch: the same records always give the same name.

    ``{topic}-{partition}-{first}-{last}`` per partition (joined by ``_``), in partition order; a name
    longer than :data:`MAX_NAME_CHARS` (a batch over many partitions) is the first segment and a hash.
    """
    spans: dict[tuple[str, int], list[int]] = {}
    for r in records:
        span = spans.setdefault((r.topic, r.partition), [r.offset, r.offset])
        span[0], span[1] = min(span[0], r.offset), max(span[1], r.offset)
    parts = [f"{topic}-{partition}-{first}-{last}" for (topic, partition), (first, last) in sorted(spans.items())]
    name = "_".join(parts).replace("/", "_")
    if len(name) > MAX_NAME_CHARS:
        name = f"{parts[0][:100]}-x{len(parts)}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    return name


@dataclass
class HistoryReport:
    records: int = 0
    objects_history: int = 0
    detections: int = 0
    forced_photometry: int = 0
    files: int = 0
    dead_lettered: int = 0
    keys: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, int]:
        """CloudWatch metric name -> value (CamelCase, as the other functions report)."""
        return {"HistoryRecords": self.records, "HistoryObjectRows": self.objects_history,
                "HistoryDetectionRows": self.detections, "HistoryForcedRows": self.forced_photometry,
                "HistoryFiles": self.files, "RecordsDeadLettered": self.dead_lettered}


class HistoryWriterService:
    """Writes each batch of enriched records to the history (``writer``), full alerts from ``alerts``."""

    def __init__(self, writer: HistoryWriter, alerts: FullAlertSource, dead_letters: DeadLetters):
        self.writer = writer
        self.alerts = alerts
        self.dead_letters = dead_letters

    def process(self, records: Sequence[KafkaRecord]) -> HistoryReport:
        report = HistoryReport(records=len(records))
        if not records:
            return report
        decoded, refused = read_enriched(records, STAGE)

        pointers = [e.alert_pointer for _, e in decoded if e.alert is None and e.alert_pointer is not None]
        archived = self.alerts.get_many(pointers) if pointers else {}  # infrastructure errors raise: retried
        rows = BatchRows()
        for record, enriched in decoded:
            alert: dict[str, Any] | None = enriched.alert
            if alert is None:
                found = archived.get(enriched.alert_pointer) if enriched.alert_pointer else None
                if found is None:
                    p = enriched.alert_pointer
                    refused.append((record, f"the full alert is not in the archive at "
                                            f"{p.key if p else '?'} (offset {p.offset if p else '?'})"))
                    continue
                alert = found[0]
            try:
                rows.add(alert_rows(enriched.objects, alert))
            except UnplaceableAlert as exc:
                refused.append((record, str(exc)))
            except Exception as exc:
                if is_infrastructure(exc):
                    raise
                refused.append((record, f"history failed: {describe(exc)}"))

        report.reasons = self.dead_letters.send_all(refused, STAGE, "alerts-enriched record(s)")
        report.dead_lettered = len(refused)

        name = batch_name(records)
        for (table, night), table_rows in sorted(rows.by_file.items()):
            report.keys.append(self.writer.append(table, night, table_rows, name=name))
        report.files = len(report.keys)
        report.objects_history = rows.count(OBJECTS_HISTORY.name)
        report.detections = rows.count(DETECTIONS.name)
        report.forced_photometry = rows.count(FORCED_PHOTOMETRY.name)
        return report
