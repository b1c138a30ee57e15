"""Cone search over the stored objects: which objects lie within a radius of a position.

The sky index gives a superset (the objects in the few HEALPix ranges covering the cone,
``skystream.domain.sky``); the exact great-circle distance keeps those inside, so the answer is
exactly the set a brute-force pass over every object would give (``tests/unit/test_sky_index.py``
checks both at 0.5, 1, 60 and 1000 arcsec near the poles and across RA 0/360). Matches come nearest
first. What the index holds is every stored object with a position, each at its latest alert's
position, whatever its age: unlike ``query/``, a cone is not limited to recent objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from skystream.domain.errors import BadRequest
from skystream.domain.sky import cone_ranges, separation_arcsec
from skystream.ports import SkyIndexReader

MAX_RADIUS_ARCSEC = 1000.0
"""Lasair's largest cone; the index is laid out so that it costs at most four Queries, plus a BatchGetItem
per 100 candidates (docs/api.md)."""


@dataclass(frozen=True)
class ConeMatch:
    dia_object_id: int
    separation_arcsec: float
    ra: float
    decl: float


@dataclass(frozen=True)
class ConeResult:
    matches: list[ConeMatch]
    """Every object within the radius, nearest first (ties by id)."""
    ranges: int
    """How many ranges of the index covered the cone (one Query each)."""
    requests: int
    """How many DynamoDB requests it took: a Query per range (more for a range over 1 MB of index), and
    the BatchGetItem calls reading the candidates' positions (:attr:`gets`)."""
    gets: int
    """How many of the requests were BatchGetItem calls (100 candidates a call)."""
    scanned: int
    """How many objects the ranges held (the matches are those within the radius)."""


def check_cone(ra: float, dec: float, radius_arcsec: float, max_radius: float = MAX_RADIUS_ARCSEC) -> None:
    """Lasair's bounds for a cone, each refused (400) with what was given and what is accepted."""
    if not 0.0 <= ra <= 360.0:
        raise BadRequest(f"ra must be between 0 and 360 degrees, not {ra:g}")
    if not -90.0 <= dec <= 90.0:
        raise BadRequest(f"dec must be between -90 and 90 degrees, not {dec:g}")
    if not 0.0 < radius_arcsec <= max_radius:
        raise BadRequest(f"radius must be more than 0 and at most {max_radius:g} arcsec, not {radius_arcsec:g}")


class ConeSearch:
    """Cone searches over the objects' sky index (``index``: the objects store)."""

    def __init__(self, index: SkyIndexReader):
        self.index = index

    def search(self, ra: float, dec: float, radius_arcsec: float, *,
               max_radius: float = MAX_RADIUS_ARCSEC) -> ConeResult:
        """Every stored object within ``radius_arcsec`` of (ra, dec), by exact distance, nearest first."""
        check_cone(ra, dec, radius_arcsec, max_radius)
        ranges = cone_ranges(ra, dec, radius_arcsec)
        scan = self.index.in_sky_ranges(ranges)
        nearest: dict[int, ConeMatch] = {}
        for point in scan.points:
            separation = separation_arcsec(ra, dec, point.ra, point.decl)
            if separation <= radius_arcsec:
                nearest[point.dia_object_id] = ConeMatch(point.dia_object_id, separation, point.ra, point.decl)
        matches = sorted(nearest.values(), key=lambda m: (m.separation_arcsec, m.dia_object_id))
        return ConeResult(matches=matches, ranges=len(ranges), requests=scan.requests, gets=scan.gets,
                          scanned=len(scan.points))
