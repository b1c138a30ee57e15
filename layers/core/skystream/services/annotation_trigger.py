"""The on-annotation trigger: re-run the filters that use an annotator for the objects it just annotated.

For a batch of events from topic ``annotations`` each active on-annotation filter runs
once, restricted to the objects annotated (in this batch) by an annotator the filter names,
with the objects' stored features and lightcurve; the batch itself (including the latest
annotations, read from the table, not from the event) is built by ``skystream.services.joins``
and delivered by ``skystream.services.matching.Matcher.run_and_deliver`` exactly as the matcher does.
Objects never seen by the ingest have no features to filter on: they are skipped and counted.

An event that is not an annotation event (not JSON, a field missing, a ``diaObjectId``
that is not a positive 64-bit integer), or whose stored object no filter could be run on,
goes to the dead-letter topic (``stage=annotation``, :mod:`skystream.streams.dead_letter`)
with the reason; the rest of the batch runs. Only a store or the broker failing raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from skystream.domain.annotations import AnnotationEvent
from skystream.domain.errors import FilterRejected
from skystream.domain.filters import StoredFilter
from skystream.domain.matches import MatchReport, OutputCounts
from skystream.domain.objects import ObjectContext, StoredObject
from skystream.domain.records import KafkaRecord
from skystream.features.columns import row_problem
from skystream.filters.compiler import compiled_filter
from skystream.filters.schedule import BatchBudget
from skystream.ports import ActiveFilters, FilterRunner, ObjectReader
from skystream.services.matching import log_failed_filter
from skystream.streams.dead_letter import DeadLetters, describe, is_infrastructure


@dataclass
class TriggerReport(OutputCounts):
    """What one batch of annotation events did (the output counts summed over its filter groups)."""

    events: int = 0
    bad_events: int = 0  # not annotation events (all dead-lettered)
    dead_lettered: int = 0  # bad events, and events of stored objects no filter can run on
    objects: int = 0
    unknown_objects: int = 0
    filters_run: int = 0
    failed_filters: int = 0
    skipped_filters: int = 0
    unknown_ids: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, int]:
        return {"AnnotationEventsReceived": self.events, "AnnotationEventsInvalid": self.bad_events,
                "RecordsDeadLettered": self.dead_lettered, "ObjectsUnknown": self.unknown_objects,
                **super().metrics(), "FiltersFailed": self.failed_filters, "FiltersSkipped": self.skipped_filters}

    def add(self, report: MatchReport) -> None:
        self.add_counts(report)
        self.filters_run += report.filters
        self.failed_filters += report.failed_filters
        self.skipped_filters += report.skipped_filters


Refused = list[tuple[KafkaRecord, str]]


def parse_events(records: Iterable[KafkaRecord]) -> tuple[list[tuple[KafkaRecord, AnnotationEvent]], Refused]:
    """The events that parse (with their records), and the records that do not, with why."""
    events: list[tuple[KafkaRecord, AnnotationEvent]] = []
    refused: Refused = []
    for record in records:
        try:
            events.append((record, AnnotationEvent.from_bytes(record.value)))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors()[:5])
            refused.append((record, f"not an annotation event: {problems}"))
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            refused.append((record, f"not an annotation event: {describe(exc)}"))
    return events, refused


def annotated_objects(events: Sequence[AnnotationEvent]) -> dict[str, list[int]]:
    """For each annotator, the objects it annotated in this batch (first-seen order, no repeats)."""
    by_annotator: dict[str, dict[int, None]] = {}
    for event in events:
        by_annotator.setdefault(event.annotator, {})[event.diaObjectId] = None
    return {name: list(ids) for name, ids in by_annotator.items()}


def plan(events: Sequence[AnnotationEvent], filters: Sequence[StoredFilter]) -> list[tuple[list[int], list[StoredFilter]]]:
    """Which filters run on which objects: groups of filters that share the same object set.

    A filter runs on the union of the objects annotated by the annotators it names, so an
    object annotated by two of them still gives one record. A filter whose SQL no longer
    compiles is left out (the matcher reports those).
    """
    by_annotator = annotated_objects(events)
    groups: dict[tuple[int, ...], list[StoredFilter]] = {}
    for stored in filters:
        if not stored.on_annotation:
            continue
        try:
            names = compiled_filter(stored).annotators
        except FilterRejected as exc:  # its one "filter failed" line; the matcher never sees it
            log_failed_filter(stored, f"refused, not run on annotations: {exc}", trigger="annotation")
            continue
        ids: dict[int, None] = {}
        for name in sorted(names):
            ids.update(dict.fromkeys(by_annotator.get(name, ())))
        if ids:
            groups.setdefault(tuple(sorted(ids)), []).append(stored)
    return [(list(ids), group) for ids, group in groups.items()]


class AnnotationTrigger:
    """The annotation function's work: ``filters`` (the active ones), ``objects`` (their stored
    features), ``matcher`` (runs and delivers, as for alerts), ``dead_letters`` (events refused)."""

    def __init__(self, *, filters: ActiveFilters, objects: ObjectReader, matcher: FilterRunner,
                 dead_letters: DeadLetters):
        self.filters = filters
        self.objects = objects
        self.matcher = matcher
        self.dead_letters = dead_letters

    def on_annotations(self, records: Iterable[KafkaRecord], *, budget: BatchBudget | None = None) -> TriggerReport:
        """Handle one batch of raw ``annotations`` records; every filter group's run shares ``budget``
        (one deadline for the whole batch)."""
        report = TriggerReport()
        parsed, refused = parse_events(records)
        report.events, report.bad_events = len(parsed), len(refused)
        events = [event for _, event in parsed]
        work: list[tuple[list[int], list[StoredFilter]]] = []
        stored: Mapping[int, StoredObject] = {}
        if events:
            work = plan(events, self.filters.active("annotation"))
        if work:
            wanted = list(dict.fromkeys(i for ids, _ in work for i in ids))
            stored = self.objects.get_many(wanted)
            unusable = {i: problem for i in wanted if i in stored and (problem := row_problem(stored[i].row))}
            refused += [(record, f"stored object {event.diaObjectId} cannot be filtered: "
                                 f"{unusable[event.diaObjectId]}")
                        for record, event in parsed if event.diaObjectId in unusable]
            stored = {i: s for i, s in stored.items() if i not in unusable}
            report.objects = sum(1 for i in wanted if i in stored)
            report.unknown_ids = [i for i in wanted if i not in stored and i not in unusable]
            report.unknown_objects = len(report.unknown_ids)
        report.reasons = self.dead_letters.send_all(refused, "annotation", "annotation event(s)")  # before the filters
        report.dead_lettered = len(refused)
        for ids, group in work:
            contexts = [ObjectContext.from_stored(stored[i]) for i in ids if i in stored]
            if contexts:
                report.add(self.matcher.run_and_deliver(contexts, group, trigger="annotation", budget=budget))
        return report
