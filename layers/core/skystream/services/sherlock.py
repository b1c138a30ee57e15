"""Sherlock's answers, as Lasair's ``sherlock/object/`` and ``sherlock/position/`` give them, from the
context rows skystream holds.

How this differs from Lasair: Lasair proxies its Sherlock service, which holds the galaxy and star
catalogues and classifies any position on request (an empty patch of sky is an ORPHAN). skystream
runs no Sherlock: it keeps the ``sherlock_classifications`` row an administrator loaded for each
object (``skystream context load``; Lasair's pipeline writes the same row). So

- ``sherlock/object/`` answers with the object's stored row: ``classifications`` maps the object id
  to ``[classification, description]`` and ``crossmatches`` is that one row (the top-ranked match,
  which is what Lasair's ``lite`` gives; there is no longer list of candidates to give without it);
  an object without a row is "not found";
- ``sherlock/position/`` answers with the rows of the stored objects within
  :data:`POSITION_RADIUS_ARCSEC` of the position (found by the cone search), nearest first, each
  row with ``diaObjectId`` and ``objectSeparationArcsec`` (position to object) added; a position
  with no classified object near it gets empty ``classifications`` and ``crossmatches``.
"""

from __future__ import annotations

from typing import Any

from skystream.domain.errors import NotFound
from skystream.ports import ContextReader
from skystream.services.cone import ConeSearch

TABLE = "sherlock_classifications"
POSITION_RADIUS_ARCSEC = 2.0
"""How far from a position a stored object may be to lend it its classification: a few times
Rubin's astrometric uncertainty, well inside the 1-3 arcsec Sherlock itself associates transients with
galaxy centres. A caller may ask for up to :data:`MAX_POSITION_RADIUS_ARCSEC` (``radius``)."""
MAX_POSITION_RADIUS_ARCSEC = 60.0


def _classification(row: dict[str, Any]) -> list[Any]:
    return [row.get("classification"), row.get("description") or row.get("summary") or ""]


class SherlockContext:
    """Sherlock answers from the context rows (``context``) and the cone search (``cone``)."""

    def __init__(self, context: ContextReader, cone: ConeSearch):
        self.context = context
        self.cone = cone

    def for_object(self, dia_object_id: int, lite: bool = True) -> dict[str, Any]:
        """``{"classifications": {id: [classification, description]}, "crossmatches": [row]}``; 404 without a row."""
        rows = self.context.rows_of([dia_object_id], [TABLE])[TABLE]
        if not rows:
            raise NotFound(f"no Sherlock classification is stored for object {dia_object_id}. skystream runs no "
                           "Sherlock service: an administrator loads the rows (`skystream context load "
                           "sherlock_classifications.csv`)")
        row = rows[0]
        return {"classifications": {str(dia_object_id): _classification(row)}, "crossmatches": [row]}

    def at_position(self, ra: float, dec: float, lite: bool = True,
                    radius_arcsec: float = POSITION_RADIUS_ARCSEC) -> dict[str, Any]:
        """The classifications of the stored objects within ``radius_arcsec`` of (ra, dec), nearest first."""
        near = self.cone.search(ra, dec, radius_arcsec, max_radius=MAX_POSITION_RADIUS_ARCSEC).matches
        rows = {int(r["diaObjectId"]): r for r in self.context.rows_of([m.dia_object_id for m in near], [TABLE])[TABLE]}
        classifications: dict[str, list[Any]] = {}
        crossmatches: list[dict[str, Any]] = []
        for match in near:
            row = rows.get(match.dia_object_id)
            if row is None:
                continue
            classifications[str(match.dia_object_id)] = _classification(row)
            crossmatches.append({**row, "diaObjectId": match.dia_object_id,
                                 "objectSeparationArcsec": match.separation_arcsec})
        return {"classifications": classifications, "crossmatches": crossmatches}
