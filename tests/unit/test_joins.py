"""build_batch: objects always; annotations and context only for what the batch's filters join."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fakes import MemoryAnnotations, MemoryContext, MemoryWatchlists, no_watchlists, no_watchmaps

from skystream.domain.watchlists import Source
from skystream.filters.batch import BatchRows
from skystream.services.joins import Joins, needed
from skystream.services.watchlists import WatchlistMatcher


@dataclass(frozen=True)
class Needs:
    tables: frozenset[str] = frozenset({"objects"})
    annotators: frozenset[str] = frozenset()
    columns: frozenset[tuple[str, str]] | None = frozenset()
    watchlists: frozenset[int] = frozenset()
    watchmaps: frozenset[int] = frozenset()


def build_batch(objects: list[dict[str, Any]], filters: list[Any], *, annotations: MemoryAnnotations,
                context: MemoryContext) -> BatchRows:
    return Joins(annotations=annotations, context=context, watchlists=no_watchlists(),
                 watchmaps=no_watchmaps()).build(objects, filters)


OBJECTS = [{"diaObjectId": 1, "ra": 10.0}, {"diaObjectId": 2, "ra": 20.0}, {"diaObjectId": 1, "ra": 10.0}]
ANNOTATIONS = [
    {"diaObjectId": 1, "annotator": "myclassifier", "classification": "SN"},
    {"diaObjectId": 2, "annotator": "other", "classification": "AGN"},
    {"diaObjectId": 9, "annotator": "myclassifier", "classification": "SN"},
]
CONTEXT = {"sherlock_classifications": [{"diaObjectId": 2, "classification": "NT"}],
           "crossmatch_tns": [{"diaObjectId": 1, "tns_name": "2026a"}]}


def test_objects_only_filters_read_nothing_else() -> None:
    annotations, context = MemoryAnnotations(ANNOTATIONS), MemoryContext(CONTEXT)
    batch = build_batch(OBJECTS, [Needs()], annotations=annotations, context=context)
    assert isinstance(batch, BatchRows)
    assert batch.objects == OBJECTS
    assert batch.annotations == [] and batch.sherlock_classifications == [] and batch.crossmatch_tns == []
    assert annotations.calls == [] and context.calls == []


def test_reads_the_named_annotators_and_joined_tables_for_the_batch_objects_once() -> None:
    annotations, context = MemoryAnnotations(ANNOTATIONS), MemoryContext(CONTEXT)
    filters = [Needs(frozenset({"objects", "annotations"}), frozenset({"myclassifier"})),
               Needs(frozenset({"objects", "sherlock_classifications"}))]
    batch = build_batch(OBJECTS, filters, annotations=annotations, context=context)
    assert annotations.calls == [([1, 2], ["myclassifier"])]
    assert context.calls == [([1, 2], ["sherlock_classifications"])]
    assert batch.annotations == [ANNOTATIONS[0]]
    assert batch.sherlock_classifications == CONTEXT["sherlock_classifications"]
    assert batch.crossmatch_tns == []


def test_no_objects_means_no_reads() -> None:
    annotations, context = MemoryAnnotations(ANNOTATIONS), MemoryContext(CONTEXT)
    filters = [Needs(frozenset({"objects", "crossmatch_tns"}), frozenset({"a"}))]
    assert build_batch([], filters, annotations=annotations, context=context).objects == []
    assert annotations.calls == [] and context.calls == []


def test_needed_unions_over_filters_and_ignores_non_context_tables() -> None:
    filters = [Needs(frozenset({"objects", "crossmatch_tns", "annotations"}), frozenset({"b", "a"})),
               Needs(frozenset({"sherlock_classifications"}), frozenset({"a"}))]
    assert needed(filters) == (["crossmatch_tns", "sherlock_classifications"], ["a", "b"])


def test_engine_sees_annotation_rows_as_stored_including_classdict_json() -> None:
    from skystream.domain.annotations import AnnotationRecord
    from skystream.filters.compiler import FilterQuery, compile_filter
    from skystream.filters.engine import SqliteEngine

    stored = [AnnotationRecord("myclassifier", 1, "SN", classdict={"prob": 0.9}).row(),
              AnnotationRecord("myclassifier", 2, "AGN", classdict={"prob": 0.95}).row(),
              AnnotationRecord("myclassifier", 3, "SN", classdict={"prob": 0.5}).row(),
              AnnotationRecord("other", 3, "SN", classdict={"prob": 0.99}).row()]
    sherlock = {"sherlock_classifications": [{"diaObjectId": 2, "classification": "SN"},
                                             {"diaObjectId": 3, "classification": "AGN"}]}
    queries = {
        "sn": ("objects, annotator:myclassifier", "myclassifier.classification = 'SN'"),
        "prob": ("objects, annotator:myclassifier", "JSON_EXTRACT(myclassifier.classdict, '$.prob') > 0.8"),
        "sherlock": ("objects, sherlock_classifications", "sherlock_classifications.classification = 'SN'"),
    }
    compiled = [(key, compile_filter(FilterQuery(selected="objects.diaObjectId", tables=t, conditions=c)))
                for key, (t, c) in queries.items()]
    objects = [{"diaObjectId": i} for i in (1, 2, 3, 4)]
    batch = build_batch(objects, [c for _, c in compiled], annotations=MemoryAnnotations(stored),
                        context=MemoryContext(sherlock))
    outcomes = SqliteEngine().run(batch, compiled)
    matched = {key: sorted(row["diaObjectId"] for row in outcome.rows) for key, outcome in outcomes.items()}
    assert matched == {"sn": [1, 3], "prob": [1, 2], "sherlock": [2]}


def _watchlists() -> MemoryWatchlists:
    store = MemoryWatchlists()
    store.add(owner=1, name="mine", description="", radius=5.0, public=False, active=True,
              sources=[Source(1, 10.0, 0.0, "near one", 5.0)])
    store.add(owner=1, name="off", description="", radius=5.0, public=False, active=False,
              sources=[Source(1, 20.0, 0.0, "near two", 5.0)])
    return store


def test_watchlist_hits_only_for_the_named_active_watchlists_and_none_without_them() -> None:
    store = _watchlists()
    joins = Joins(annotations=MemoryAnnotations(), context=MemoryContext(), watchlists=WatchlistMatcher(store),
                  watchmaps=no_watchmaps())
    objects = [{"diaObjectId": 1, "ra": 10.0, "decl": 0.001}, {"diaObjectId": 2, "ra": 20.0, "decl": 0.0},
               {"diaObjectId": 3, "ra": 30.0, "decl": 0.0}]
    plain = joins.build(objects, [Needs()])
    assert plain.watchlist_hits == [] and store.settings_reads == 0 and store.source_reads == 0
    batch = joins.build(objects, [Needs(watchlists=frozenset({1, 2}))])
    assert [(h["diaObjectId"], h["wl_id"], h["name"]) for h in batch.watchlist_hits] == [(1, 1, "near one")]
    assert batch.watchlist_hits[0]["arcsec"] == pytest.approx(3.6)
    joins.build(objects, [Needs(watchlists=frozenset({1}))])
    assert store.source_reads == 1  # the sources are read once per process
