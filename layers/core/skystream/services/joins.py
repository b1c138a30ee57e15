"""Assemble the rows a filter batch can join: objects, plus annotations and context only when asked.

Filters see annotations the moment they are uploaded (Lasair joins a daily dump): each
batch reads the latest annotation of every annotator its filters name, for exactly the
batch's objects, with BatchGetItem. Tables no filter of the batch joins are not read at all,
so the common case (filters on ``objects`` alone) costs no extra DynamoDB call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skystream.filters.batch import BatchRows
from skystream.ports import AnnotationReader, ContextReader, NeedsTables
from skystream.storage.context import CONTEXT_TABLES


def needed(filters: Sequence[NeedsTables]) -> tuple[list[str], list[str]]:
    """(context tables, annotator names) that at least one of ``filters`` joins, sorted."""
    tables: set[str] = set()
    annotators: set[str] = set()
    for compiled in filters:
        tables |= set(compiled.tables)
        annotators |= set(compiled.annotators)
    return sorted(tables & set(CONTEXT_TABLES)), sorted(annotators)


class Joins:
    """Builds each batch from the objects' rows plus what its filters join, read from ``annotations`` and ``context``."""

    def __init__(self, *, annotations: AnnotationReader, context: ContextReader):
        self.annotations = annotations
        self.context = context

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
        if annotators:
            batch.annotations.extend(self.annotations.latest(ids, annotators))
        return batch
