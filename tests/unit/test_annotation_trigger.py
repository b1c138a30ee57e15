"""The on-annotation trigger's planning and its batch handling, with fakes for stores and delivery."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fakes import RecordingProducer, records

from skystream.domain.annotations import AnnotationEvent
from skystream.domain.filters import StoredFilter
from skystream.services.annotation_trigger import on_annotations, plan
from skystream.services.matching import MatchReport, ObjectContext
from skystream.streams.dead_letter import DeadLetters


def _filter(filter_id: str, annotators: Iterable[str], on_annotation: bool = True) -> StoredFilter:
    tables = ", ".join(["objects", *(f"annotator:{name}" for name in annotators)])
    return StoredFilter(filter_id=filter_id, owner=1, name=filter_id, selected="objects.diaObjectId",
                        tables=tables, on_annotation=on_annotation, output="kafka_plain",
                        created="2026-01-01 00:00:00", modified="2026-01-01 00:00:00")


def _event(object_id: int, annotator: str, classification: str = "SN") -> AnnotationEvent:
    return AnnotationEvent(diaObjectId=object_id, annotator=annotator, classification=classification, uploaded_us=1)


def test_each_filter_runs_on_the_objects_of_the_annotators_it_names() -> None:
    events = [_event(1, "a"), _event(2, "b"), _event(1, "b"), _event(3, "c")]
    only_a, a_and_b, only_b, none, off = (_filter("fa", ["a"]), _filter("fab", ["a", "b"]), _filter("fb", ["b"]),
                                          _filter("fz", ["z"]), _filter("off", ["a"], on_annotation=False))
    groups = {tuple(ids): [f.filter_id for f in fs] for ids, fs in plan(events, [only_a, a_and_b, only_b, none, off])}
    assert groups == {(1,): ["fa"], (1, 2): ["fab", "fb"]}  # one batch for filters sharing an object set


@dataclass
class FakeFilters:
    filters: list[StoredFilter]
    asked: list[str] = field(default_factory=list)

    def active(self, trigger: Any) -> list[StoredFilter]:
        self.asked.append(trigger)
        return self.filters


@dataclass
class Stored:
    row: dict[str, Any]
    lite: dict[str, Any]


class FakeObjects:
    def __init__(self, *ids: int):
        self.known = {i: Stored({"diaObjectId": i}, {"diaSourcesList": []}) for i in ids}

    def get_many(self, ids: Iterable[int]) -> dict[int, Stored]:
        return {i: self.known[i] for i in ids if i in self.known}


@dataclass
class FakeRun:
    calls: list[tuple[list[int], list[str], str]] = field(default_factory=list)

    def __call__(self, objects: Sequence[ObjectContext], filters: Sequence[StoredFilter], *, trigger: str,
                 producer: Any = None, budget: Any = None) -> MatchReport:
        self.calls.append(([o.dia_object_id for o in objects], [f.filter_id for f in filters], trigger))
        return MatchReport(objects=len(objects), filters=len(filters), matched=len(objects), produced=len(objects))


def test_a_batch_runs_matching_filters_on_known_objects_and_counts_the_rest() -> None:
    run = FakeRun()
    values = [_event(1, "a").to_bytes(), b"not json", _event(2, "a").to_bytes(), _event(1, "a").to_bytes()]
    dlq = RecordingProducer()
    report = on_annotations(records(values, "annotations"),
                            filters=FakeFilters([_filter("fa", ["a"]), _filter("fb", ["b"])]),
                            objects=FakeObjects(1), run=run, dead_letters=DeadLetters(dlq, "alerts-dlq"))
    assert run.calls == [([1], ["fa"], "annotation")]
    assert (report.events, report.bad_events, report.objects, report.unknown_objects) == (3, 1, 1, 1)
    assert report.unknown_ids == [2] and report.produced == 1 and report.filters_run == 1
    assert [(v, h["stage"], h["source"]) for _, v, _, h in dlq.sent] == [(b"not json", "annotation",
                                                                          "annotations-0@1")]


def test_no_interested_filter_reads_no_objects() -> None:
    class Exploding:
        def get_many(self, ids: Iterable[int]) -> dict[int, Stored]:
            raise AssertionError("objects were read although no filter wanted them")

    run = FakeRun()
    report = on_annotations(records([_event(1, "a").to_bytes()], "annotations"),
                            filters=FakeFilters([_filter("fb", ["b"])]), objects=Exploding(), run=run)
    assert run.calls == [] and report.events == 1 and report.filters_run == 0
