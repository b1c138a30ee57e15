"""Assemble the rows a filter batch can join: objects, plus annotations and context only when asked.

Filters see annotations the moment they are uploaded (Lasair joins a daily dump): each
batch reads the latest annotation of every annotator its filters name, for exactly the
batch's objects, with BatchGetItem. Tables no filter of the batch joins are not read at all,
so the common case (filters on ``objects`` alone) costs no extra DynamoDB call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from skystream.filters.batch import BatchRows
from skystream.storage.context import CONTEXT_TABLES


class NeedsTables(Protocol):
    """What ``build_batch`` reads of a compiled filter (``skystream.filters.compiler.CompiledFilter``)."""

    @property
    def tables(self) -> frozenset[str]: ...

    @property
    def annotators(self) -> frozenset[str]: ...


class AnnotationReader(Protocol):
    def latest(self, object_ids: Iterable[int], annotators: Iterable[str]) -> list[dict[str, Any]]: ...


class ContextReader(Protocol):
    def rows_of(self, object_ids: Iterable[int], tables: Iterable[str]) -> dict[str, list[dict[str, Any]]]: ...


def needed(filters: Sequence[NeedsTables]) -> tuple[list[str], list[str]]:
    """(context tables, annotator names) that at least one of ``filters`` joins, sorted."""
    tables: set[str] = set()
    annotators: set[str] = set()
    for compiled in filters:
        tables |= set(compiled.tables)
        annotators |= set(compiled.annotators)
    return sorted(tables & set(CONTEXT_TABLES)), sorted(annotators)


def build_batch(
    objects: Sequence[dict[str, Any]],
    filters: Sequence[NeedsTables],
    *,
    annotations: AnnotationReader | None = None,
    context: ContextReader | None = None,
) -> BatchRows:
    """The batch for ``filters`` over ``objects`` rows (each with ``diaObjectId``).

    ``annotations`` and ``context`` default to the DynamoDB stores; tests pass fakes.
    """
    tables, annotators = needed(filters)
    ids = list(dict.fromkeys(int(row["diaObjectId"]) for row in objects))
    batch = BatchRows(objects=list(objects), sherlock_classifications=[], crossmatch_tns=[], annotations=[])
    if not ids:
        return batch
    if tables:
        if context is None:
            from skystream.storage.context import ContextStore

            context = ContextStore()
        for table, rows in context.rows_of(ids, tables).items():
            getattr(batch, table).extend(rows)
    if annotators:
        if annotations is None:
            from skystream.storage.annotations import AnnotationStore

            annotations = AnnotationStore()
        batch.annotations.extend(annotations.latest(ids, annotators))
    return batch
