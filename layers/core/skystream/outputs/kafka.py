"""Outputs ``kafka_plain``, ``kafka_lite`` and ``kafka_full``: one JSON record per matching row on the filter's topic.

The record's shape is the filter's output kind (:mod:`skystream.outputs.formats`); each goes
to the topic within the producer's size limit and the filter's daily byte quota
(:mod:`skystream.outputs.delivery`: what does not fit is dropped and counted). ``kafka_full``
needs the object's whole alert: the matcher has it from the enriched record; otherwise it is
read from the archive, at most once per object per run however many filters want it. The
run's records are flushed once, in :meth:`KafkaRun.finish`: a broker failure raises there and
the batch is retried.
"""

from __future__ import annotations

from typing import Any

from skystream.domain.filters import StoredFilter
from skystream.domain.matches import FilterResult
from skystream.domain.objects import KEY_COLUMN
from skystream.outputs.base import MatchedBatch
from skystream.outputs.delivery import Outgoing, deliver
from skystream.outputs.formats import build_record, encode_record
from skystream.ports import FullAlertSource, QuotaCounter, RecordProducer


class KafkaOutput:
    """The Kafka output strategy: the producer for users' topics, the quota counter, the alert archive."""

    def __init__(self, producer: RecordProducer, quota: QuotaCounter, archive: FullAlertSource):
        self.producer = producer
        self.quota = quota
        self.archive = archive

    def start(self, batch: MatchedBatch) -> KafkaRun:
        return KafkaRun(self, batch)


class KafkaRun:
    def __init__(self, output: KafkaOutput, batch: MatchedBatch):
        self._output = output
        self._batch = batch
        self._full_alerts: dict[int, tuple[dict[str, Any], str] | None] = {}
        self._produced = False

    def deliver(self, f: StoredFilter, rows: list[dict[str, Any]]) -> FilterResult:
        result = FilterResult(matched=len(rows))
        outgoing = self._records(f, rows, result)
        counts = deliver(f, outgoing, producer=self._output.producer, quota=self._output.quota, day=self._batch.day)
        result.produced = counts.produced
        result.dropped_oversize = counts.dropped_oversize
        result.dropped_quota = counts.dropped_quota
        self._produced = self._produced or counts.produced > 0
        return result

    def finish(self) -> None:
        if self._produced:
            self._output.producer.flush()

    def _full_alert(self, dia_object_id: int) -> tuple[dict[str, Any], str] | None:
        if dia_object_id not in self._full_alerts:
            self._full_alerts[dia_object_id] = self._output.archive.get(dia_object_id)
        return self._full_alerts[dia_object_id]

    def _records(self, f: StoredFilter, rows: list[dict[str, Any]], result: FilterResult) -> list[Outgoing]:
        out: list[Outgoing] = []
        for row in rows:
            raw_id = row.get(KEY_COLUMN)
            ctx = self._batch.objects.get(int(raw_id)) if raw_id is not None else None
            if ctx is None:
                result.error = f"a matching row has no {KEY_COLUMN}; select objects.{KEY_COLUMN} in the filter"
                continue
            full = None
            schema_version = ctx.schema_version
            if f.output == "kafka_full":
                full = ctx.full_alert
                if full is None:
                    stored = self._full_alert(ctx.dia_object_id)
                    if stored is None:
                        result.error = f"no stored alert for object {ctx.dia_object_id}; its full record was not sent"
                        continue
                    full, schema_version = stored
            record = build_record(f.output, row, utc=self._batch.utc, lite=ctx.lite, full_alert=full)
            out.append(Outgoing(dia_object_id=ctx.dia_object_id, value=encode_record(record),
                                schema_version=schema_version))
        return out
