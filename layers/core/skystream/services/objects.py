"""What the API shows of one object: its features, lite lightcurve, annotations and context rows.

Values come back JSON-safe (NaN as null, DynamoDB's Decimals as numbers), as records do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skystream.domain.errors import NotFound
from skystream.outputs.formats import clean
from skystream.ports import ObjectAnnotations, ObjectContextRows, ObjectReader


@dataclass(frozen=True)
class ObjectView:
    dia_object_id: int
    objects: dict[str, Any]
    lite: dict[str, Any]
    annotations: list[dict[str, Any]]
    annotation_history: list[dict[str, Any]]
    context: dict[str, dict[str, Any]]


class ObjectReads:
    def __init__(self, *, objects: ObjectReader, annotations: ObjectAnnotations, context: ObjectContextRows):
        self.objects = objects
        self.annotations = annotations
        self.context = context

    def view(self, dia_object_id: int) -> ObjectView:
        """The object as ``GET /objects/{id}`` shows it; 404 for an object no alert has brought."""
        stored = self.objects.get(dia_object_id)
        if stored is None:
            raise NotFound(f"no object {dia_object_id} has been seen (objects appear with their first alert)")
        return ObjectView(
            dia_object_id=dia_object_id,
            objects=clean(stored.row),
            lite=clean(stored.lite),
            annotations=clean(self.annotations.latest_for_object(dia_object_id)),
            annotation_history=clean(self.annotations.history(dia_object_id)),
            context=clean(self.context.for_object(dia_object_id)),
        )

    def annotations_of(self, dia_object_id: int) -> dict[str, list[dict[str, Any]]]:
        """The latest annotation per annotator and every upload, newest first (``annotations``, ``history``)."""
        return self.annotations.for_object(dia_object_id)
