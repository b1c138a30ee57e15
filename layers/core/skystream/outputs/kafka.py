"""Outputs ``kafka_plain``, ``kafka_lite`` and ``kafka_full``: one JSON record per matching row on the filter's topic.

The record's shape is the filter's output kind (:mod:`skystream.outputs.formats`); each goes
to the topic within the producer's size limit and the filter's daily byte quota
(:mod:`skystream.outputs.delivery`: what does not fit is dropped and counted). ``kafka_full``
needs the object's whole alert: it is read from the archive by the pointer the object carries
(its enriched record's, or its objects item's), for all of a filter's rows at once (the archive
reads one S3 object's alerts with one GET) and at most once per alert per run however many
filters want it; an alert already at hand (an enriched record of the earlier shape) is used as it is.
``kafka_lite`` needs the lite lightcurve: the enriched record carries it; a stored object does
not (the objects table keeps none), so it is derived from the archived full alert, read the same way. The
run's records are flushed once, in :meth:`KafkaRun.finish`: a broker failure raises there and
the batch is retried.
"""

from __future__ import annotations

from typing import Any

from skystream.alerts.lightcurve import lite_from_full
from skystream.domain.filters import Output, StoredFilter
from skystream.domain.matches import FilterResult
from skystream.domain.objects import KEY_COLUMN, AlertPointer, ObjectContext
from skystream.outputs.base import MatchedBatch
from skystream.outputs.delivery import Outgoing, deliver
from skystream.outputs.formats import alert_payload, encode_with_alert, encoded_alert
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
        self._full_alerts: dict[AlertPointer, tuple[dict[str, Any], str] | None] = {}
        self._alerts: dict[tuple[int, str], tuple[str | None, str] | None] = {}
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

    def _read_full_alerts(self, contexts: list[ObjectContext]) -> None:
        """Read the archived alerts of ``contexts`` not read yet in this run, in one archive call."""
        wanted = [ctx.alert_pointer for ctx in contexts if ctx.full_alert is None and ctx.alert_pointer is not None
                  and ctx.alert_pointer not in self._full_alerts]
        if wanted:
            found = self._output.archive.get_many(wanted)
            for pointer in wanted:
                self._full_alerts[pointer] = found.get(pointer)

    def _alert(self, kind: Output, ctx: ObjectContext) -> tuple[str | None, str] | None:
        """The ``"alert"`` of ``ctx``'s ``kind`` records (as JSON text) and their schema version, built and
        encoded once per object and kind in this run (every filter of that kind matching the object shares it); None when it needs the
        archived alert and there is none."""
        key = (ctx.dia_object_id, kind)
        if key not in self._alerts:
            self._alerts[key] = self._build_alert(kind, ctx)
        return self._alerts[key]

    def _build_alert(self, kind: Output, ctx: ObjectContext) -> tuple[str | None, str] | None:
        full, lite, schema_version = ctx.full_alert, ctx.lite, ctx.schema_version
        if (kind == "kafka_full" and full is None) or (kind == "kafka_lite" and lite is None):
            if full is None:
                stored = self._full_alerts.get(ctx.alert_pointer) if ctx.alert_pointer is not None else None
                if stored is None:
                    return None
                full, schema_version = stored
            if kind == "kafka_lite":
                lite = lite_from_full(full)
        return encoded_alert(alert_payload(kind, lite=lite, full_alert=full)), schema_version

    def _records(self, f: StoredFilter, rows: list[dict[str, Any]], result: FilterResult) -> list[Outgoing]:
        out: list[Outgoing] = []
        matched: list[tuple[dict[str, Any], ObjectContext]] = []
        for row in rows:
            raw_id = row.get(KEY_COLUMN)
            ctx = self._batch.objects.get(int(raw_id)) if raw_id is not None else None
            if ctx is None:
                result.error = f"a matching row has no {KEY_COLUMN}; select objects.{KEY_COLUMN} in the filter"
                continue
            matched.append((row, ctx))
        if f.output == "kafka_full":
            self._read_full_alerts([ctx for _, ctx in matched])
        elif f.output == "kafka_lite":
            self._read_full_alerts([ctx for _, ctx in matched if ctx.lite is None])
        for row, ctx in matched:
            alert = self._alert(f.output, ctx)
            if alert is None:
                result.error = f"no stored alert for object {ctx.dia_object_id}; its {f.output} record was not sent"
                continue
            alert_json, schema_version = alert
            out.append(Outgoing(dia_object_id=ctx.dia_object_id,
                                value=encode_with_alert(row, utc=self._batch.utc, alert_json=alert_json),
                                schema_version=schema_version))
        return out
