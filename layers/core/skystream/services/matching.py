"""Run users' filters over a batch of objects and deliver what matches.

The same path serves every trigger: new alerts (the matcher), new annotations, and the
reseed of a freshly saved Kafka filter. One batch of objects becomes one in-memory SQLite
database; every filter runs on it (a failing filter never stops the others); each
matching row becomes a record in the filter's output format and goes to its topic within
the size limit and the daily byte quota, or to the email digest.

Time is shared: filters run in the order ``filters.schedule`` gives (cheap ones first,
owners taking turns, the batch's budget split fairly between owners), and each filter's
records are produced as soon as it has run, so one user's expensive filters never hold
back another user's records. A filter the budget cannot fit is skipped and counted (not a
failure); one that fails or times out is counted towards its suspension
(``skystream.services.suspension``).

Logging: each failed filter gets exactly one line per run, ``filter failed`` (filter id, owner,
error, timed_out, elapsed_s, trigger, objects), written here and nowhere else (the engine only
reports outcomes); a run with failed or skipped filters adds one summary line,
``filters failed or skipped``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aws_lambda_powertools import Logger

from skystream.alerts.enriched import BadEnrichedRecord, EnrichedRecord
from skystream.domain.errors import FilterRejected, NotBuilt
from skystream.domain.filters import StoredFilter
from skystream.features.columns import row_problem
from skystream.filters.compiler import compiled_filter
from skystream.filters.schedule import BatchBudget, FairSchedule
from skystream.outputs.delivery import DeliveryCounts, Outgoing, deliver
from skystream.outputs.formats import build_record, encode_record, utc_stamp
from skystream.ports import QuotaCounter, RecordProducer
from skystream.streams.dead_letter import DeadLetters, default_dead_letters, describe, is_infrastructure
from skystream.streams.lambda_event import KafkaRecord

if TYPE_CHECKING:
    from skystream.filters.compiler import CompiledFilter
    from skystream.filters.engine import FilterEngine, FilterOutcome
    from skystream.services.suspension import FilterHealth

log = Logger(child=True)

KEY_COLUMN = "diaObjectId"
SKIPPED_FOR_BUDGET = ("not run on this batch: the batch's time was used up (it is shared fairly between users); "
                      "its matches in this batch are not delivered, the next batch runs it again")


@dataclass
class ObjectContext:
    """One object as a filter batch sees it: its features row, lite lightcurve and (if at hand) full alert."""

    row: dict[str, Any]
    lite: dict[str, Any]
    full_alert: dict[str, Any] | None = None
    schema_version: str = ""

    @property
    def dia_object_id(self) -> int:
        return int(self.row[KEY_COLUMN])

    @classmethod
    def from_stored(cls, stored: Any) -> ObjectContext:
        """A ``storage.objects.StoredObject`` (row, lite, schema_version); its full alert is read lazily if needed."""
        return cls(row=dict(stored.row), lite=dict(stored.lite or {}),
                   schema_version=str(getattr(stored, "schema_version", "") or ""))


@dataclass
class OutputCounts:
    """What matches became: one filter's, a batch's, or (summed) an annotation batch's."""

    matched: int = 0
    produced: int = 0
    dropped_oversize: int = 0
    dropped_quota: int = 0
    emailed: int = 0

    def add_counts(self, other: OutputCounts) -> None:
        for name in _COUNT_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_COUNT_NAMES = tuple(f.name for f in fields(OutputCounts))


@dataclass
class FilterResult(OutputCounts):
    """What one filter did with one batch."""

    error: str | None = None
    skipped: str | None = None  # why it did not run this time (not its fault, not a failure)


@dataclass
class MatchReport(OutputCounts):
    objects: int = 0
    filters: int = 0
    failed_filters: int = 0
    skipped_filters: int = 0
    per_filter: dict[str, FilterResult] = field(default_factory=dict)

    def add(self, filter_id: str, result: FilterResult) -> None:
        self.per_filter[filter_id] = result
        self.add_counts(result)
        self.failed_filters += result.error is not None
        self.skipped_filters += result.skipped is not None


class FullAlertSource(Protocol):
    def get(self, dia_object_id: int) -> tuple[dict, str] | None: ...


class _ArchiveReads:
    """The archive as one run reads it: each object's full alert read at most once, however many
    kafka_full filters match it, and the real archive opened only when a full alert is missing."""

    def __init__(self, archive: FullAlertSource | None):
        self._archive = archive
        self._read: dict[int, tuple[dict, str] | None] = {}

    def get(self, dia_object_id: int) -> tuple[dict, str] | None:
        if dia_object_id not in self._read:
            if self._archive is None:
                from skystream.storage.archive import AlertArchive

                self._archive = AlertArchive()
            self._read[dia_object_id] = self._archive.get(dia_object_id)
        return self._read[dia_object_id]


class DigestSink(Protocol):
    def add_matches(
        self, day: dt.date, user_id: int, filter_id: str, filter_name: str, rows: list[dict], utc: str
    ) -> int: ...


def newest_per_object(objects: Sequence[ObjectContext]) -> list[ObjectContext]:
    """One context per diaObjectId: the one with the latest detection (the last seen on a tie).

    A batch can hold two alerts of one object; the newer one carries the other's history,
    so evaluating it alone keeps one record per object per batch, in order.
    """
    best: dict[int, ObjectContext] = {}
    for ctx in objects:
        current = best.get(ctx.dia_object_id)
        if current is None or (ctx.row.get("lastDiaSourceMjdTai") or 0) >= (
            current.row.get("lastDiaSourceMjdTai") or 0
        ):
            best[ctx.dia_object_id] = ctx
    return list(best.values())


def run_and_deliver(
    objects: Sequence[ObjectContext],
    filters: Sequence[StoredFilter],
    *,
    trigger: Literal["alert", "annotation", "save"],
    producer: RecordProducer | None = None,
    quota: QuotaCounter | None = None,
    engine: FilterEngine | None = None,
    archive: FullAlertSource | None = None,
    digest: DigestSink | None = None,
    batch_builder: Any = None,
    max_records_per_filter: int | None = None,
    now: dt.datetime | None = None,
    budget: BatchBudget | None = None,
    health: FilterHealth | None = None,
) -> MatchReport:
    """Evaluate ``filters`` on ``objects`` and deliver each filter's matches to its output.

    ``trigger`` says why they run (a new alert, an annotation, or the reseed after a save);
    the caller has already chosen the filters that trigger concerns. ``budget`` is the
    batch's deadline (None: each filter's own time limit only).

    Collaborators default to the real ones (shared producer, DynamoDB quota, SQLite engine,
    S3 archive, digest table, and for alert and annotation triggers the failure counts of
    ``skystream.services.suspension``); tests pass fakes. Produced records are flushed once before
    returning: a broker failure raises, so the event source retries the batch.
    """
    report = MatchReport()
    contexts = newest_per_object(objects)
    report.objects = len(contexts)
    report.filters = len(filters)
    if not contexts or not filters:
        return report
    if health is None and trigger != "save":
        health = _default_health()

    runnable, failures = _compile(filters, report)
    for f, reason in failures:
        log_failed_filter(f, reason, trigger=trigger, objects=len(contexts))
    successes: list[StoredFilter] = []
    if runnable:
        if batch_builder is None:
            from skystream.services.joins import build_batch as batch_builder
        if engine is None:
            engine = _default_engine()
        outputs = _Outputs(contexts, now or dt.datetime.now(dt.UTC), producer=producer, quota=quota,
                           archive=archive, digest=digest, max_records=max_records_per_filter)
        batch = batch_builder([ctx.row for ctx in contexts], [compiled for _, compiled in runnable])
        schedule: FairSchedule[tuple[StoredFilter, CompiledFilter]] = FairSchedule(
            [((f, c), f.owner, (f.filter_id, f.version)) for f, c in runnable],
            time_limit_s=engine.time_limit_s, budget=budget)
        with engine.session(batch, [compiled for _, compiled in runnable]) as session:
            for turn in schedule:  # each filter evaluated, then its records delivered at once
                f, compiled = turn.job
                outcome = session.evaluate(f.filter_id, compiled, turn.time_limit_s)
                if schedule.finished(turn, elapsed_s=outcome.elapsed_s, timed_out=outcome.timed_out) in (
                        "again", "skipped"):
                    continue
                started = time.monotonic()
                result = _failed(outcome) or outputs.deliver(f, outcome.rows)
                schedule.charge(turn, time.monotonic() - started)
                report.add(f.filter_id, result)
                if result.error is None:
                    successes.append(f)
                    continue
                log_failed_filter(f, result.error, trigger=trigger, objects=len(contexts),
                                  timed_out=outcome.timed_out, elapsed_s=outcome.elapsed_s)
                if not outcome.ok:
                    failures.append((f, result.error))
        _skipped([f for f, _ in schedule.skipped], report)
        outputs.flush()
    _summarise(report, trigger)
    if health is not None:  # after the flush: failure bookkeeping never delays anyone's records
        for f in successes:
            health.succeeded(f)
        for f, reason in failures:
            health.failed(f, reason)
    return report


def _compile(filters: Sequence[StoredFilter], report: MatchReport,
             ) -> tuple[list[tuple[StoredFilter, CompiledFilter]], list[tuple[StoredFilter, str]]]:
    """The filters that compile, and (reported) those refused: stored before a checker change,
    they fail every batch until saved again (and so get suspended); never stop the others."""
    runnable: list[tuple[StoredFilter, CompiledFilter]] = []
    refused: list[tuple[StoredFilter, str]] = []
    for f in filters:
        try:
            runnable.append((f, compiled_filter(f)))
        except FilterRejected as exc:
            report.add(f.filter_id, FilterResult(error=f"refused: {exc}"))
            refused.append((f, f"refused: {exc}"))
    return runnable, refused


def _skipped(filters: list[StoredFilter], report: MatchReport) -> None:
    for f in filters:
        report.add(f.filter_id, FilterResult(skipped=SKIPPED_FOR_BUDGET))


def log_failed_filter(f: StoredFilter, error: str, *, trigger: str, objects: int | None = None,
                      timed_out: bool = False, elapsed_s: float = 0.0) -> None:
    """The one log line of a filter that failed on a batch: refused by the checker, raised, ran out
    of time, or matched rows that could not become records. Searchable by ``filter_id`` and ``owner``."""
    log.warning("filter failed", extra={
        "filter_id": f.filter_id, "owner": f.owner, "error": error, "timed_out": timed_out,
        "elapsed_s": round(elapsed_s, 3), "trigger": trigger, "objects": objects})


def _summarise(report: MatchReport, trigger: str) -> None:
    """One line for a run where filters failed or were skipped (each failure also has its own line)."""
    if not report.failed_filters and not report.skipped_filters:
        return
    failed = [fid for fid, r in report.per_filter.items() if r.error is not None]
    skipped = [fid for fid, r in report.per_filter.items() if r.skipped is not None]
    log.warning("filters failed or skipped", extra={
        "failed_filters": report.failed_filters, "skipped_filters": report.skipped_filters,
        "filters": report.filters, "objects": report.objects, "trigger": trigger,
        "failed_filter_ids": failed[:50], "skipped_filter_ids": skipped[:50],
        "skipped_because": SKIPPED_FOR_BUDGET if skipped else None})


def _failed(outcome: FilterOutcome) -> FilterResult | None:
    """The result of a filter that failed (an error or its own time limit), else None."""
    if outcome.ok:
        return None
    return FilterResult(error=outcome.error or "timed out")


class _Outputs:
    """Where one run's matches go: records to Kafka topics (within size limit and byte quota) or
    rows to the email digest. Collaborators are made on first use; :meth:`flush` once at the end."""

    def __init__(self, contexts: Sequence[ObjectContext], moment: dt.datetime, *, producer: RecordProducer | None,
                 quota: QuotaCounter | None, archive: FullAlertSource | None, digest: DigestSink | None,
                 max_records: int | None) -> None:
        self.by_object = {ctx.dia_object_id: ctx for ctx in contexts}
        self.utc = utc_stamp(moment)
        self.day = moment.astimezone(dt.UTC).date()
        self.producer = producer
        self.quota = quota
        self.full_alerts = _ArchiveReads(archive)
        self.digest = digest
        self.max_records = max_records
        self.produced_any = False

    def deliver(self, f: StoredFilter, rows: list[dict[str, Any]]) -> FilterResult:
        """Send one filter's matching rows now (produced, not yet flushed)."""
        result = FilterResult()
        rows = list(rows) if self.max_records is None else list(rows)[: self.max_records]
        result.matched = len(rows)
        if rows and f.output == "email":
            if self.digest is None:
                self.digest = _default_digest()
            result.emailed = self.digest.add_matches(self.day, f.owner, f.filter_id, f.name,
                                                     [dict(r) for r in rows], self.utc)
        elif rows and f.is_kafka:
            outgoing = _records(f, rows, self.by_object, self.utc, self.full_alerts, result)
            if self.producer is None:
                from skystream.streams.producer import output_producer

                self.producer = output_producer()
            if self.quota is None:
                from skystream.storage.quota import QuotaStore

                self.quota = QuotaStore()
            counts: DeliveryCounts = deliver(f, outgoing, producer=self.producer, quota=self.quota, day=self.day)
            result.produced = counts.produced
            result.dropped_oversize = counts.dropped_oversize
            result.dropped_quota = counts.dropped_quota
            self.produced_any = self.produced_any or counts.produced > 0
        return result

    def flush(self) -> None:
        if self.produced_any and self.producer is not None and hasattr(self.producer, "flush"):
            self.producer.flush()


def _records(
    f: StoredFilter,
    rows: list[dict[str, Any]],
    by_object: dict[int, ObjectContext],
    utc: str,
    archive: FullAlertSource,
    result: FilterResult,
) -> list[Outgoing]:
    out: list[Outgoing] = []
    for row in rows:
        raw_id = row.get(KEY_COLUMN)
        ctx = by_object.get(int(raw_id)) if raw_id is not None else None
        if ctx is None:
            result.error = f"a matching row has no {KEY_COLUMN}; select objects.{KEY_COLUMN} in the filter"
            continue
        full = None
        schema_version = ctx.schema_version
        if f.output == "kafka_full":
            full = ctx.full_alert
            if full is None:
                stored = archive.get(ctx.dia_object_id)
                if stored is None:
                    result.error = f"no stored alert for object {ctx.dia_object_id}; its full record was not sent"
                    continue
                full, schema_version = stored
        record = build_record(f.output, row, utc=utc, lite=ctx.lite, full_alert=full)
        out.append(Outgoing(dia_object_id=ctx.dia_object_id, value=encode_record(record),
                            schema_version=schema_version))
    return out


def _default_engine() -> FilterEngine:
    from skystream.config import settings
    from skystream.filters.engine import SqliteEngine

    return SqliteEngine(time_limit_s=settings().filter_time_limit_s)


def _default_health() -> FilterHealth:
    from skystream.services.suspension import Suspensions

    return Suspensions()


def _default_digest() -> DigestSink:
    try:
        from skystream.storage.digest import DigestStore
    except ImportError as exc:
        raise NotBuilt(
            "email output needs skystream.storage.digest.DigestStore (the email digest issue, #7), "
            "which is not built yet; choose a Kafka output for now"
        ) from exc
    return DigestStore()


@dataclass
class EnrichedMatchReport(MatchReport):
    """A matcher batch: what the filters did, and the records refused before they ran."""

    dead_lettered: int = 0
    reasons: list[str] = field(default_factory=list)


def contexts_from_enriched(records: Sequence[KafkaRecord]) -> tuple[list[ObjectContext], list[tuple[KafkaRecord, str]]]:
    """``alerts-enriched`` records -> the contexts the filters run on, and the records refused, with why.

    The matcher defends itself rather than trust its input: a record that does not parse, or
    whose objects row SQLite or the stores cannot hold (say an id beyond 64 bits, written by
    an older ingest), would otherwise fail every evaluation of its batch, and the batch would
    be retried without end. Such a record is refused alone; the rest of the batch runs.
    """
    contexts: list[ObjectContext] = []
    refused: list[tuple[KafkaRecord, str]] = []
    for record in records:
        try:
            enriched = EnrichedRecord.from_bytes(record.value)
            problem = row_problem(enriched.objects)
        except BadEnrichedRecord as exc:
            problem = exc.reason
        except Exception as exc:  # whatever else one record raises is that record's, not the batch's
            if is_infrastructure(exc):
                raise
            problem = f"match failed: {describe(exc)}"
        if problem:
            refused.append((record, problem))
            continue
        contexts.append(ObjectContext(row=enriched.objects, lite=enriched.lite, full_alert=enriched.alert,
                                      schema_version=enriched.schema_version))
    return contexts, refused


def match_enriched(records: Sequence[KafkaRecord], *, producer: RecordProducer | None = None,
                   dead_letters: DeadLetters | None = None, budget: BatchBudget | None = None) -> EnrichedMatchReport:
    """The matcher's work for one batch of ``alerts-enriched`` records: every active on-alert filter,
    within ``budget`` (the Lambda's remaining time less the reserve for delivery).

    Refused records go to the dead-letter topic (``stage=match``) and are flushed before the
    filters run; the filters then run on the rest.
    """
    from skystream.storage.filters import FilterStore

    contexts, refused = contexts_from_enriched(records)
    reasons: list[str] = []
    if refused:
        dead_letters = dead_letters or default_dead_letters()
        reasons = [dead_letters.send(record, reason, "match") for record, reason in refused]
        dead_letters.flush()
        log.warning("%d alerts-enriched record(s) sent to the dead-letter topic: %s", len(reasons), reasons[:5])
    report = MatchReport()
    if contexts:
        report = run_and_deliver(contexts, FilterStore().active("alert"), trigger="alert", producer=producer,
                                 budget=budget)
    counts = {f.name: getattr(report, f.name) for f in fields(report) if f.init}
    return EnrichedMatchReport(**counts, dead_lettered=len(reasons), reasons=reasons)
