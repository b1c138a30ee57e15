"""Assemble the rows a filter batch can join: objects, plus annotations and context only when asked.

Filters see annotations the moment they are uploaded (Lasair joins a daily dump): each
batch reads the latest annotation of every annotator its filters name, for exactly the
batch's objects, with BatchGetItem. Tables no filter of the batch joins are not read at all,
so the common case (filters on ``objects`` alone) costs no extra DynamoDB call.

Some objects columns come from a context table (``filters.schema.DERIVED``): ``objects.tns_name``
is the object's ``crossmatch_tns.tns_name``, as Lasair sets it on its objects row when the TNS
crossmatch hits. It is filled here, when the batch is built, and only when a filter reads it;
the context rows are read in the same BatchGetItem pass as the joined tables.

``watchlist_hits`` is computed, not read: the batch's positions against the watchlists its filters
name (``watchlist:N``), through ``watchlists`` (``services/watchlists.py``); a batch whose filters
name no watchlist makes no call to it at all. ``area_hits`` likewise: the positions against the watchmaps
the filters name (``watchmap:N``, ``area:N``), through ``watchmaps`` (``services/watchmaps.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skystream.filters.batch import BatchRows
from skystream.filters.schema import DERIVED
from skystream.ports import AnnotationReader, ContextReader, NeedsTables, WatchlistHitRows, WatchmapHitRows
from skystream.storage.context import CONTEXT_TABLES


def derived(filters: Sequence[NeedsTables]) -> list[tuple[str, str]]:
    """The derived (table, column) pairs (``filters.schema.DERIVED``) that at least one of ``filters`` reads."""
    read: set[tuple[str, str]] = set()
    for compiled in filters:
        columns = compiled.columns
        read |= set(DERIVED) if columns is None else set(DERIVED) & set(columns)
    return sorted(read)


def needed(filters: Sequence[NeedsTables]) -> tuple[list[str], list[str]]:
    """(context tables, annotator names) that at least one of ``filters`` joins or reads a column from, sorted."""
    tables: set[str] = {DERIVED[pair] for pair in derived(filters)}
    annotators: set[str] = set()
    for compiled in filters:
        tables |= set(compiled.tables)
        annotators |= set(compiled.annotators)
    return sorted(tables & set(CONTEXT_TABLES)), sorted(annotators)


def with_tns_names(objects: Sequence[dict[str, Any]], tns_rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``objects`` with ``tns_name`` from their crossmatch_tns row (NULL without one)."""
    names = {int(row["diaObjectId"]): row.get("tns_name") for row in tns_rows}
    return [{**row, "tns_name": names.get(int(row["diaObjectId"]))} for row in objects]


class Joins:
    """Builds each batch from the objects' rows plus what its filters join, read from ``annotations`` and ``context``."""

    def __init__(self, *, annotations: AnnotationReader, context: ContextReader, watchlists: WatchlistHitRows,
                 watchmaps: WatchmapHitRows):
        self.annotations = annotations
        self.context = context
        self.watchlists = watchlists
        self.watchmaps = watchmaps

    def build(self, objects: Sequence[dict[str, Any]], filters: Sequence[NeedsTables]) -> BatchRows:
        """The batch for ``filters`` over ``objects`` rows (each with ``diaObjectId``)."""
        tables, annotators = needed(filters)
        ids = list(dict.fromkeys(int(row["diaObjectId"]) for row in objects))
        batch = BatchRows(objects=list(objects), sherlock_classifications=[], crossmatch_tns=[], annotations=[])
        if not ids:
            return batch
        if tables:
            for table, rows in self.context.rows_of(ids, tables).items():
                getattr(batch, table).extend(rows)
        if ("objects", "tns_name") in derived(filters):
            batch.objects = with_tns_names(batch.objects, batch.crossmatch_tns)
        if annotators:
            batch.annotations.extend(self.annotations.latest(ids, annotators))
        wl_ids = frozenset().union(*(compiled.watchlists for compiled in filters))
        ar_ids = frozenset().union(*(compiled.watchmaps for compiled in filters))
        if wl_ids or ar_ids:
            positions = [(int(row["diaObjectId"]), row.get("ra"), row.get("decl")) for row in batch.objects]
            if wl_ids:
                batch.watchlist_hits.extend(self.watchlists.rows(wl_ids, positions))
            if ar_ids:
                batch.area_hits.extend(self.watchmaps.rows(ar_ids, positions))
        return batch
