"""The on-annotation trigger's planning and its batch handling, with fakes for stores and delivery."""

from __future__ import annotations

from collections.abc import Iterable

from fakes import MemoryFilters, MemoryObjects, RecordingProducer, RecordingRunner, records

from skystream.domain.annotations import AnnotationEvent
from skystream.domain.filters import StoredFilter
from skystream.domain.objects import StoredObject
from skystream.services.annotation_trigger import AnnotationTrigger, plan
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


def test_a_batch_runs_matching_filters_on_known_objects_and_counts_the_rest() -> None:
    run = RecordingRunner()
    values = [_event(1, "a").to_bytes(), b"not json", _event(2, "a").to_bytes(), _event(1, "a").to_bytes()]
    dlq = RecordingProducer()
    trigger = AnnotationTrigger(filters=MemoryFilters([_filter("fa", ["a"]), _filter("fb", ["b"])]),
                                objects=MemoryObjects.of([{"diaObjectId": 1}], lite={"diaSourcesList": []}),
                                matcher=run, dead_letters=DeadLetters(dlq, "alerts-dlq"))
    report = trigger.on_annotations(records(values, "annotations"))
    assert run.calls == [([1], ["fa"], "annotation")]
    assert (report.events, report.bad_events, report.objects, report.unknown_objects) == (3, 1, 1, 1)
    assert report.unknown_ids == [2] and report.produced == 1 and report.filters_run == 1
    assert [(v, h["stage"], h["source"]) for _, v, _, h in dlq.sent] == [(b"not json", "annotation",
                                                                          "annotations-0@1")]


def test_no_interested_filter_reads_no_objects() -> None:
    class Exploding(MemoryObjects):
        def get_many(self, ids: Iterable[int]) -> dict[int, StoredObject]:
            raise AssertionError("objects were read although no filter wanted them")

    run = RecordingRunner()
    trigger = AnnotationTrigger(filters=MemoryFilters([_filter("fb", ["b"])]), objects=Exploding(), matcher=run,
                                dead_letters=DeadLetters(RecordingProducer(), "alerts-dlq"))
    report = trigger.on_annotations(records([_event(1, "a").to_bytes()], "annotations"))
    assert run.calls == [] and report.events == 1 and report.filters_run == 0
