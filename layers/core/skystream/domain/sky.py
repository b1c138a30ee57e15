"""The sky index: the HEALPix cell of an object's position, the cells a cone touches, exact separations.

Objects are indexed by two numbers (the objects table's ``by-sky`` index, infra/template.yaml):

- ``sky_cell``: the nested HEALPix cell at depth :data:`CELL_DEPTH` (6: 49,152 cells of 0.84 deg^2,
  about 55' across), the index's partition key;
- ``sky_pix``: the object's HEALPix pixel at depth :data:`KEY_DEPTH` (16: ~3.2" across), written
  as the depth-29 nested index (:data:`PIXEL_DEPTH`) of that pixel's first sub-pixel, the index's
  sort key. Quantised, not the position itself, because an object's mean position moves a little
  with every alert and ingest rewrites its whole item each time: DynamoDB bills a global secondary
  index a delete and a put (2 write units) whenever an item write changes an index key, and
  nothing when neither key nor a projected attribute changes. A 0.1" move stays inside its
  3.2" pixel ~96% of the time (``benchmarks/cost.py`` measures the rate), so the index is written
  for a new object and a pixel crossing, not for every alert. The index projects keys only
  (``ra``/``decl`` moving with every alert would cost a write unit each time too); the cone
  search reads the candidates' positions from the table (:meth:`ObjectStore.in_sky_ranges`).

In the nested scheme a cell ``c`` of depth ``d`` is exactly the run of depth-29 indices
``[c * 4**(29-d), (c+1) * 4**(29-d) - 1]``, and its depth-6 ancestor is ``c >> 2*(d-6)``. So a
cone is answered with ranges of ``sky_pix`` inside one ``sky_cell`` each: :func:`query_depth`
picks a depth whose cells are at least as wide as the cone (so it overlaps at most a few), the
HEALPix library lists every cell of that depth the cone overlaps, even partly (its
``cone_coverage``), each becomes its range, neighbours in one ``sky_cell``
merge, and each range is one DynamoDB Query. The depth is never deeper than :data:`KEY_DEPTH`, so
every range is a run of whole depth-16 pixels and a key lies in a range exactly when its pixel is
in the cover, whatever the radius (keys written at depth 29, before the quantisation, lie in their
own depth-16 pixel's range too). What the ranges hold is a superset of the cone;
:func:`separation_arcsec` (the exact great-circle distance) keeps what lies inside. How many
queries a cone of each radius costs is measured by ``benchmarks/cone.py`` (docs/api.md).

Geometry comes from maintained libraries, never from home-made code, both needing only numpy:

- an object's pixel: ``healpix`` (the official HEALPix C library's Python package), 5 us a
  position, which the ingest pays on every alert;
- a cone's cells: healpix-geo, the Python binding of CDS's ``cdshealpix`` Rust crate (the HEALPix
  code under CDS's MOCs and MOCPy), whose cover contains every cell the cone overlaps. Its own
  per-position call costs 35-240 us (it starts a thread pool per call; the more the machine is
  loaded, the more that costs), which is why it does not compute the pixels.

Both number cells in the standard nested scheme (checked equal in the tests). Chosen over the
two obvious libraries by measurement (issue 18, BENCHMARKS.md): astropy-healpix and cdshealpix's
own Python package both need astropy, which took the Lambda layer from 83 MB to 228 MB unzipped,
91% of Lambda's 250 MB for a function and all its layers; and astropy-healpix's cone search does
not always contain every cell the cone overlaps (a 1" cone at ra=273.2320160, dec=62.1199496
omits depth-16 cell 16087028559, which holds a point 0.865" from the centre).
``tests/unit/test_sky_index.py`` checks the cover against brute force.

They import numpy (about 50 ms), so they are imported on first use (:func:`_pixels`,
:func:`_covers`): the functions that never compute a cell (matcher, annotations, digest) import
this module through the objects store without paying for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

CELL_DEPTH = 6
"""Depth of ``sky_cell``, the index's partition key: 12 * 4**6 = 49,152 cells of 0.84 deg^2. The
largest cone (1000 arcsec) is queried at this depth (its cells, ~3300", are 1.6x its diameter), so it costs
at most a few queries; a deeper partition key would multiply that (4x per level)."""
PIXEL_DEPTH = 29
"""The numbering of ``sky_pix``, the index's sort key: nested indices at HEALPix's deepest depth (0.4 mas
cells), so any depth's cell is one run of them."""
KEY_DEPTH = 16
"""The depth ``sky_pix`` is quantised to: pixels of ~3.2" (211,076" / 2**16). Coarse enough that an
object's mean position, which moves by a fraction of an arcsec with each new alert, mostly keeps its
key (so the index is not rewritten, see the module docstring); fine enough that a pixel holds few
objects, so a 1" cone (queried at this depth) reads few besides its own. Cones are never queried
deeper (:func:`query_depth`): a deeper range would cut a key's pixel and miss objects."""
_KEY_SHIFT = 2 * (PIXEL_DEPTH - KEY_DEPTH)
BASE_CELL_ARCSEC = math.degrees(math.sqrt(math.pi / 3)) * 3600
"""Width of a depth-0 cell (the square root of its area, 4 pi / 12 sr): 211,076 arcsec."""


@dataclass(frozen=True)
class PixelRange:
    """The ``sky_pix`` values ``first..last`` (inclusive) within one ``sky_cell``: one DynamoDB Query."""

    cell: int
    first: int
    last: int


@dataclass(frozen=True)
class SkyPoint:
    """An indexed object's id and position (degrees), as the objects table holds it."""

    dia_object_id: int
    ra: float
    decl: float


@dataclass(frozen=True)
class SkyScan:
    """What the index gave for some ranges: the objects in them and the DynamoDB requests it took."""

    points: list[SkyPoint]
    queries: int
    """Queries of the index: one per range, one more per further 1 MB page."""
    gets: int = 0
    """BatchGetItem calls reading the candidates' positions from the table (100 ids a call)."""
    over: int = 0
    """When the ranges held more objects than the caller's ``limit``: how many (and ``points`` is empty, no
    position read)."""

    @property
    def requests(self) -> int:
        """Every DynamoDB request the scan took."""
        return self.queries + self.gets


@cache
def _pixels() -> Any:
    """The ``healpix`` package, imported once, on first use (see the module docstring)."""
    import healpix

    return healpix


@cache
def _covers() -> Any:
    """``healpix_geo.nested``, imported once, on first use (see the module docstring)."""
    from healpix_geo import nested

    return nested


def is_position(ra: Any, decl: Any) -> bool:
    """Whether (ra, decl) can be indexed: finite numbers, decl within [-90, 90] (ra wraps)."""
    return (isinstance(ra, (int, float)) and isinstance(decl, (int, float))
            and not isinstance(ra, bool) and not isinstance(decl, bool)
            and math.isfinite(ra) and math.isfinite(decl) and -90.0 <= decl <= 90.0)


def pixel_of(ra: float, decl: float) -> int:
    """The nested HEALPix index of (ra, decl) degrees at :data:`PIXEL_DEPTH`."""
    return int(_pixels().ang2pix(2**PIXEL_DEPTH, ra % 360.0, decl, nest=True, lonlat=True))


def cells_of(ra: Any, decl: Any, depth: int) -> Any:
    """The nested cells of ``depth`` holding arrays of positions (degrees): one vectorised call, for indexing
    many sources at once (``domain/watchlist_match.py``)."""
    return _pixels().ang2pix(2**depth, ra % 360.0, decl, nest=True, lonlat=True)


def cell_of_pixel(pixel: int) -> int:
    """The ``sky_cell`` (depth :data:`CELL_DEPTH`) holding a depth-29 pixel."""
    return pixel >> (2 * (PIXEL_DEPTH - CELL_DEPTH))


def key_pixel(pixel: int) -> int:
    """The ``sky_pix`` of a depth-29 pixel: the first depth-29 pixel of its depth-:data:`KEY_DEPTH` pixel
    (its low ``2 * (29 - 16)`` bits cleared), the same for every position inside that ~3.2" pixel."""
    return (pixel >> _KEY_SHIFT) << _KEY_SHIFT


def sky_attributes(ra: float, decl: float) -> dict[str, int]:
    """The index's two attributes for an object at (ra, decl): ``sky_cell`` and ``sky_pix`` (quantised to
    :data:`KEY_DEPTH`, so they stay the same while the object's position moves inside its pixel)."""
    pixel = key_pixel(pixel_of(ra, decl))
    return {"sky_cell": cell_of_pixel(pixel), "sky_pix": pixel}


def query_depth(radius_arcsec: float) -> int:
    """The depth whose cells are at least as wide as the cone's diameter (so it overlaps few of them),
    kept within [:data:`CELL_DEPTH`, :data:`KEY_DEPTH`]: 1000" -> 6, 60" -> 10, 1" and less -> 16.

    Never deeper than :data:`KEY_DEPTH`: the keys are whole depth-16 pixels, so a range must be too."""
    if radius_arcsec <= 0:
        return KEY_DEPTH
    depth = math.floor(math.log2(BASE_CELL_ARCSEC / (2.0 * radius_arcsec)))
    return max(CELL_DEPTH, min(KEY_DEPTH, depth))


def cone_cells(ra: float, decl: float, radius_arcsec: float, depth: int) -> list[int]:
    """Every nested cell of ``depth`` the cone overlaps, even partly, in increasing order."""
    cells, _depths, _full = _covers().cone_coverage((ra % 360.0, decl), radius_arcsec / 3600.0, depth, flat=True)
    return sorted({int(c) for c in cells})


def cone_ranges(ra: float, decl: float, radius_arcsec: float) -> list[PixelRange]:
    """The ranges of the index that hold every object within ``radius_arcsec`` of (ra, decl), and more."""
    depth = query_depth(radius_arcsec)
    shift = 2 * (PIXEL_DEPTH - depth)
    ranges: list[PixelRange] = []
    for cell in cone_cells(ra, decl, radius_arcsec, depth):
        parent = cell >> (2 * (depth - CELL_DEPTH))
        first, last = cell << shift, ((cell + 1) << shift) - 1
        if ranges and ranges[-1].cell == parent and ranges[-1].last + 1 == first:
            ranges[-1] = PixelRange(parent, ranges[-1].first, last)
        else:
            ranges.append(PixelRange(parent, first, last))
    return ranges


def merge_ranges(ranges: Iterable[PixelRange]) -> list[PixelRange]:
    """The same pixels as ``ranges`` in the fewest ranges: sorted, overlapping or touching ones within one
    ``sky_cell`` joined (a rerun's many cones or a MOC's runs become as few Queries as they can)."""
    merged: list[PixelRange] = []
    for r in sorted(ranges, key=lambda r: (r.cell, r.first)):
        if merged and merged[-1].cell == r.cell and r.first <= merged[-1].last + 1:
            if r.last > merged[-1].last:
                merged[-1] = PixelRange(r.cell, merged[-1].first, r.last)
        else:
            merged.append(r)
    return merged


def key_ranges(start: int, end: int) -> list[PixelRange]:
    """The index ranges holding every key of the depth-29 pixels ``[start, end)``: widened to whole
    :data:`KEY_DEPTH` pixels (a key is its pixel's first depth-29 index, so a range cutting a pixel would
    miss the objects keyed there) and split at ``sky_cell`` boundaries (a Query reads one cell)."""
    first = key_pixel(start)
    last = ((((end - 1) >> _KEY_SHIFT) + 1) << _KEY_SHIFT) - 1
    cell_shift = 2 * (PIXEL_DEPTH - CELL_DEPTH)
    return [PixelRange(cell, max(first, cell << cell_shift), min(last, ((cell + 1) << cell_shift) - 1))
            for cell in range(cell_of_pixel(first), cell_of_pixel(last) + 1)]


def separation_arcsec(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """The great-circle distance between two positions (degrees in, arcsec out).

    Vincenty's formula for the sphere: exact, and accurate at every distance (the haversine loses
    precision near 180 degrees, the cosine rule near 0).
    """
    d1, d2, dra = math.radians(dec1), math.radians(dec2), math.radians(ra2 - ra1)
    s1, c1, s2, c2 = math.sin(d1), math.cos(d1), math.sin(d2), math.cos(d2)
    across = math.hypot(c2 * math.sin(dra), c1 * s2 - s1 * c2 * math.cos(dra))
    along = s1 * s2 + c1 * c2 * math.cos(dra)
    return math.degrees(math.atan2(across, along)) * 3600.0
