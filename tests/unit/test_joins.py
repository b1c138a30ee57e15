"""build_batch: objects always; annotations and context only for what the batch's filters join."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from skystream.filters.batch import BatchRows
from skystream.joins import build_batch, needed


@dataclass(frozen=True)
class Needs:
    tables: frozenset[str] = frozenset({"objects"})
    annotators: frozenset[str] = frozenset()


@dataclass
class FakeAnnotations:
    rows: list[dict[str, Any]]
    calls: list[tuple[list[int], list[str]]] = field(default_factory=list)

    def latest(self, object_ids: Iterable[int], annotators: Iterable[str]) -> list[dict[str, Any]]:
        ids, names = list(object_ids), list(annotators)
        self.calls.append((ids, names))
        return [r for r in self.rows if r["diaObjectId"] in ids and r["annotator"] in names]


@dataclass
class FakeContext:
    rows: dict[str, list[dict[str, Any]]]
    calls: list[tuple[list[int], list[str]]] = field(default_factory=list)

    def rows_of(self, object_ids: Iterable[int], tables: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        ids, names = list(object_ids), list(tables)
        self.calls.append((ids, names))
        return {t: [r for r in self.rows.get(t, []) if r["diaObjectId"] in ids] for t in names}


OBJECTS = [{"diaObjectId": 1, "ra": 10.0}, {"diaObjectId": 2, "ra": 20.0}, {"diaObjectId": 1, "ra": 10.0}]
ANNOTATIONS = [
    {"diaObjectId": 1, "annotator": "myclassifier", "classification": "SN"},
    {"diaObjectId": 2, "annotator": "other", "classification": "AGN"},
    {"diaObjectId": 9, "annotator": "myclassifier", "classification": "SN"},
]
CONTEXT = {"sherlock_classifications": [{"diaObjectId": 2, "classification": "NT"}],
           "crossmatch_tns": [{"diaObjectId": 1, "tns_name": "2026a"}]}


def test_objects_only_filters_read_nothing_else() -> None:
    annotations, context = FakeAnnotations(ANNOTATIONS), FakeContext(CONTEXT)
    batch = build_batch(OBJECTS, [Needs()], annotations=annotations, context=context)
    assert isinstance(batch, BatchRows)
    assert batch.objects == OBJECTS
    assert batch.annotations == [] and batch.sherlock_classifications == [] and batch.crossmatch_tns == []
    assert annotations.calls == [] and context.calls == []


def test_reads_the_named_annotators_and_joined_tables_for_the_batch_objects_once() -> None:
    annotations, context = FakeAnnotations(ANNOTATIONS), FakeContext(CONTEXT)
    filters = [Needs(frozenset({"objects", "annotations"}), frozenset({"myclassifier"})),
               Needs(frozenset({"objects", "sherlock_classifications"}))]
    batch = build_batch(OBJECTS, filters, annotations=annotations, context=context)
    assert annotations.calls == [([1, 2], ["myclassifier"])]
    assert context.calls == [([1, 2], ["sherlock_classifications"])]
    assert batch.annotations == [ANNOTATIONS[0]]
    assert batch.sherlock_classifications == CONTEXT["sherlock_classifications"]
    assert batch.crossmatch_tns == []


def test_no_objects_means_no_reads() -> None:
    annotations, context = FakeAnnotations(ANNOTATIONS), FakeContext(CONTEXT)
    filters = [Needs(frozenset({"objects", "crossmatch_tns"}), frozenset({"a"}))]
    assert build_batch([], filters, annotations=annotations, context=context).objects == []
    assert annotations.calls == [] and context.calls == []


def test_needed_unions_over_filters_and_ignores_non_context_tables() -> None:
    filters = [Needs(frozenset({"objects", "crossmatch_tns", "annotations"}), frozenset({"b", "a"})),
               Needs(frozenset({"sherlock_classifications"}), frozenset({"a"}))]
    assert needed(filters) == (["crossmatch_tns", "sherlock_classifications"], ["a", "b"])
