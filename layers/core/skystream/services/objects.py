"""What the API shows of one object: its features, lite lightcurve, annotations and context rows,
in skystream's shape (``GET /objects/{id}``) and in Lasair's (``/api/object/``).

Values come back JSON-safe (NaN as null, DynamoDB's Decimals as numbers), as records do.

Lasair's object page (``lasair_added`` true, its default): ``diaObjectId``; ``diaObject`` with
``ra``, ``decl``, ``firstDiaSourceMjdTai``, ``lastDiaSourceMjdTai``; ``lasairData`` with the rest of
the objects row and ``sherlock``, ``TNS`` (the context rows, ``{}`` when none), ``annotations`` (the
latest of each annotator) and ``imageUrls`` (always ``[]``: skystream keeps no cutouts);
``diaSourcesList`` and ``diaForcedSourcesList``. With ``lasair_added`` false: ``diaObjectId``, the
two lists, and with ``lite`` false also ``diaObject`` (the alert's own). ``lite`` (true) gives the
lite lightcurve the objects table keeps (psfFlux, psfFluxErr, midpointMjdTai, band, reliability);
``lite`` false gives the full detections of the object's latest alert from the archive, and when
that alert was never archived, the lite lists with ``"lightcurve": "lite"`` saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skystream.domain.errors import NotFound
from skystream.domain.objects import StoredObject
from skystream.outputs.formats import clean
from skystream.ports import FullAlertSource, ObjectAnnotations, ObjectContextRows, ObjectReader

DIA_OBJECT_FIELDS = ("ra", "decl", "firstDiaSourceMjdTai", "lastDiaSourceMjdTai")
"""The objects row's columns Lasair's page shows under ``diaObject`` rather than ``lasairData``."""


@dataclass(frozen=True)
class ObjectView:
    dia_object_id: int
    objects: dict[str, Any]
    lite: dict[str, Any]
    annotations: list[dict[str, Any]]
    annotation_history: list[dict[str, Any]]
    context: dict[str, dict[str, Any]]


class ObjectReads:
    def __init__(self, *, objects: ObjectReader, annotations: ObjectAnnotations, context: ObjectContextRows,
                 archive: FullAlertSource):
        self.objects = objects
        self.annotations = annotations
        self.context = context
        self.archive = archive

    def _stored(self, dia_object_id: int) -> StoredObject:
        stored = self.objects.get(dia_object_id)
        if stored is None:
            raise NotFound(f"no object {dia_object_id} has been seen (objects appear with their first alert)")
        return stored

    def view(self, dia_object_id: int) -> ObjectView:
        """The object as ``GET /objects/{id}`` shows it; 404 for an object no alert has brought."""
        stored = self._stored(dia_object_id)
        return ObjectView(
            dia_object_id=dia_object_id,
            objects=clean(stored.row),
            lite=clean(stored.lite),
            annotations=clean(self.annotations.latest_for_object(dia_object_id)),
            annotation_history=clean(self.annotations.history(dia_object_id)),
            context=clean(self.context.for_object(dia_object_id)),
        )

    def lasair_page(self, dia_object_id: int, *, lite: bool = True, lasair_added: bool = True) -> dict[str, Any]:
        """The object as Lasair's ``/api/object/`` shows it (see the module docstring); 404 for an unseen object."""
        stored = self._stored(dia_object_id)
        lists: dict[str, Any] = stored.lite or {}
        alert_object: dict[str, Any] | None = None
        if not lite:
            pointer = stored.alert_pointer
            archived = self.archive.get_many([pointer]).get(pointer) if pointer is not None else None
            if archived is None:
                lists = {**lists, "lightcurve": "lite"}
            else:
                full, _schema_version = archived
                alert_object = full.get("diaObject")
                lists = {"diaSourcesList": full.get("diaSourcesList") or [],
                         "diaForcedSourcesList": full.get("diaForcedSourcesList") or []}
        page: dict[str, Any] = {"diaObjectId": dia_object_id}
        if lasair_added:
            row = clean(stored.row)
            context = clean(self.context.for_object(dia_object_id))
            page["diaObject"] = {name: row.get(name) for name in DIA_OBJECT_FIELDS}
            page["lasairData"] = {
                **{k: v for k, v in row.items() if k not in DIA_OBJECT_FIELDS and k != "diaObjectId"},
                "sherlock": context.get("sherlock_classifications", {}),
                "TNS": context.get("crossmatch_tns", {}),
                "annotations": clean(self.annotations.latest_for_object(dia_object_id)),
                "imageUrls": [],
            }
        elif alert_object is not None:
            page["diaObject"] = clean(alert_object)
        return {**page, **clean(lists)}

    def annotations_of(self, dia_object_id: int) -> dict[str, list[dict[str, Any]]]:
        """The latest annotation per annotator and every upload, newest first (``annotations``, ``history``)."""
        return self.annotations.for_object(dia_object_id)
