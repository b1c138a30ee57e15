"""Run users' filters over a batch of objects and deliver what matches.

The same path serves every trigger: new alerts (the matcher), new annotations, and the
reseed of a freshly saved Kafka filter. One batch of objects becomes one in-memory SQLite
database; every filter runs on it (a failing filter never stops the others); each
filter's matching rows go to the strategy of its output (``skystream.outputs``: records on
its Kafka topic within the size limit and the daily byte quota, or rows for the email
digest). This module only orchestrates: schedule, evaluate, hand the rows over, report.

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
from typing import Literal

from aws_lambda_powertools import Logger

from skystream.domain.errors import FilterRejected
from skystream.domain.filters import StoredFilter
from skystream.domain.matches import FilterResult, MatchReport
from skystream.domain.objects import ObjectContext
from skystream.domain.records import KafkaRecord
from skystream.filters.compiler import CompiledFilter, compiled_filter
from skystream.filters.engine import FilterEngine, FilterOutcome
from skystream.filters.schedule import BatchBudget, FairSchedule
from skystream.outputs.base import MatchedBatch, Outputs
from skystream.ports import ActiveFilters, FilterHealth, FilterRunner
from skystream.services.joins import Joins
from skystream.streams.dead_letter import DeadLetters, read_enriched

log = Logger(child=True)

SKIPPED_FOR_BUDGET = ("not run on this batch: the batch's time was used up (it is shared fairly between users); "
                      "its matches in this batch are not delivered, the next batch runs it again")
RunTrigger = Literal["alert", "annotation", "save"]


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


class Matcher:
    """Runs filters over a batch of objects and hands each filter's matches to its output strategy.

    ``engine`` evaluates (``skystream.filters.engine``), ``joins`` reads the joined tables the
    batch's filters need, ``outputs`` knows where each output kind goes, and ``health`` (None:
    no bookkeeping) hears which filters failed, for their suspension.
    """

    def __init__(self, *, engine: FilterEngine, joins: Joins, outputs: Outputs, health: FilterHealth | None):
        self.engine = engine
        self.joins = joins
        self.outputs = outputs
        self.health = health

    def _may_read_watchlists(self, runnable: list[tuple[StoredFilter, CompiledFilter]], report: MatchReport,
                             failures: list[tuple[StoredFilter, str]]) -> list[tuple[StoredFilter, CompiledFilter]]:
        """Refuse, as a failure of the filter, one naming a watchlist or watchmap its owner may no longer read
        (deleted, or made private by another user after the filter was saved): its records would show another
        user's private sources or area. Filters naming neither are not looked at, so their batches do no such work."""
        kept: list[tuple[StoredFilter, CompiledFilter]] = []
        for f, compiled in runnable:
            lost = [(kind, n) for kind, ids, settings in (("watchlist", compiled.watchlists, self.joins.watchlists),
                                                          ("watchmap", compiled.watchmaps, self.joins.watchmaps))
                    if ids for n in settings.unreadable(f.owner, ids)]
            if lost:
                kind, n = lost[0]
                reason = (f"refused: no {kind} {n}: it was deleted, or its owner made it private; "
                          "change tables and save the filter again")
                report.add(f.filter_id, FilterResult(error=reason))
                failures.append((f, reason))
            else:
                kept.append((f, compiled))
        return kept

    def run_and_deliver(
        self,
        objects: Sequence[ObjectContext],
        filters: Sequence[StoredFilter],
        *,
        trigger: RunTrigger,
        max_records_per_filter: int | None = None,
        now: dt.datetime | None = None,
        budget: BatchBudget | None = None,
    ) -> MatchReport:
        """Evaluate ``filters`` on ``objects`` and deliver each filter's matches to its output.

        ``trigger`` says why they run (a new alert, an annotation, or the reseed after a save);
        the caller has already chosen the filters that trigger concerns. ``budget`` is the
        batch's deadline (None: each filter's own time limit only). A reseed's failures are not
        counted towards suspension: it runs on old objects, not on the filter's batches.

        Each output's records are made durable once before returning (the Kafka producer is
        flushed): a broker failure raises, so the event source retries the batch.
        """
        report = MatchReport()
        contexts = newest_per_object(objects)
        report.objects = len(contexts)
        report.filters = len(filters)
        if not contexts or not filters:
            return report
        health = None if trigger == "save" else self.health
        runnable, failures = _compile(filters, report)
        runnable = self._may_read_watchlists(runnable, report, failures)
        for f, reason in failures:
            log_failed_filter(f, reason, trigger=trigger, objects=len(contexts))
        successes: list[StoredFilter] = []
        if runnable:
            outputs = self.outputs.session(MatchedBatch.of(contexts, now or dt.datetime.now(dt.UTC)))
            batch = self.joins.build([ctx.row for ctx in contexts], [compiled for _, compiled in runnable])
            schedule: FairSchedule[tuple[StoredFilter, CompiledFilter]] = FairSchedule(
                [((f, c), f.owner, (f.filter_id, f.version)) for f, c in runnable],
                time_limit_s=self.engine.time_limit_s, budget=budget)
            with self.engine.session(batch, [compiled for _, compiled in runnable]) as session:
                for turn in schedule:  # each filter evaluated, then its records delivered at once
                    f, compiled = turn.job
                    outcome = session.evaluate(f.filter_id, compiled, turn.time_limit_s)
                    if schedule.finished(turn, elapsed_s=outcome.elapsed_s, timed_out=outcome.timed_out) in (
                            "again", "skipped"):
                        continue
                    started = time.monotonic()
                    rows = outcome.rows if max_records_per_filter is None else outcome.rows[:max_records_per_filter]
                    result = _failed(outcome) or outputs.deliver(f, list(rows))
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
            outputs.finish()
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


@dataclass
class EnrichedMatchReport(MatchReport):
    """A matcher batch: what the filters did, and the records refused before they ran."""

    dead_lettered: int = 0
    reasons: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, int]:
        return {**super().metrics(), "RecordsDeadLettered": self.dead_lettered}


def contexts_from_enriched(records: Sequence[KafkaRecord]) -> tuple[list[ObjectContext], list[tuple[KafkaRecord, str]]]:
    """``alerts-enriched`` records -> the contexts the filters run on, and the records refused, with why.

    The matcher defends itself rather than trust its input: a record that does not parse, or
    whose objects row SQLite or the stores cannot hold (say an id beyond 64 bits, written by
    an older ingest), would otherwise fail every evaluation of its batch, and the batch would
    be retried without end. Such a record is refused alone; the rest of the batch runs.
    """
    read, refused = read_enriched(records, "match")
    contexts = [ObjectContext(row=e.objects, lite=e.lite, full_alert=e.alert, schema_version=e.schema_version,
                              alert_pointer=e.alert_pointer) for _record, e in read]
    return contexts, refused


class EnrichedMatcher:
    """The matcher function's work for one batch of ``alerts-enriched`` records: every active
    on-alert filter (``filters``), run by ``matcher``; refused records to ``dead_letters``."""

    def __init__(self, *, filters: ActiveFilters, matcher: FilterRunner, dead_letters: DeadLetters):
        self.filters = filters
        self.matcher = matcher
        self.dead_letters = dead_letters

    def match_enriched(self, records: Sequence[KafkaRecord], *, budget: BatchBudget | None = None,
                       ) -> EnrichedMatchReport:
        """Match one batch within ``budget`` (the Lambda's remaining time less the reserve for delivery).

        Refused records go to the dead-letter topic (``stage=match``) and are flushed before the
        filters run; the filters then run on the rest.
        """
        contexts, refused = contexts_from_enriched(records)
        reasons = self.dead_letters.send_all(refused, "match", "alerts-enriched record(s)")
        report = MatchReport()
        if contexts:
            report = self.matcher.run_and_deliver(contexts, self.filters.active("alert"), trigger="alert",
                                                  budget=budget)
        counts = {f.name: getattr(report, f.name) for f in fields(report) if f.init}
        return EnrichedMatchReport(**counts, dead_lettered=len(reasons), reasons=reasons)
