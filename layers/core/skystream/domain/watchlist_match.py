"""The crossmatch of a batch's positions against watchlists: a sky index, then exact distances.

:class:`SourceIndex` holds the sources of one or more watchlists in arrays sorted by their nested
HEALPix cell at one depth, chosen from the largest radius with :func:`skystream.domain.sky.query_depth`
(cells at least as wide as the largest cone's diameter, so a cone overlaps few of them). For each
position, :func:`skystream.domain.sky.cone_cells` lists every cell of that depth the largest cone around
the position overlaps, even partly (a superset, checked against brute force in tests/unit/test_sky_index.py):
every source within its own radius of the position lies in one of those cells. The sources of those
cells are the candidates; the exact great-circle distance (Vincenty, as
:func:`skystream.domain.sky.separation_arcsec`, vectorised) keeps those within their own radius.

Building an index costs one vectorised ``ang2pix`` and a sort (~0.1 s for 100,000 sources), so the
matcher builds it once per watchlist version and keeps it (``services/watchlists.py``); a position costs
one cone cover and a few array slices. numpy (with the HEALPix packages) is imported on first use, as in
``domain/sky.py``: a process that matches no watchlist never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from skystream.domain.sky import PIXEL_DEPTH, cells_of, cone_cells, is_position, query_depth
from skystream.domain.watchlists import Source


@cache
def _np() -> Any:
    """numpy, imported once, on first use (see the module docstring)."""
    import numpy

    return numpy


@dataclass(frozen=True)
class Hit:
    """One object within one source's radius: a row of the filters' ``watchlist_hits`` table."""

    wl_id: int
    cone_id: int
    name: str
    arcsec: float
    dia_object_id: int

    def row(self) -> dict[str, Any]:
        """The row as the filter batch holds it (columns of ``watchlist_hits``)."""
        return {"diaObjectId": self.dia_object_id, "wl_id": self.wl_id, "cone_id": self.cone_id,
                "name": self.name, "arcsec": self.arcsec}


class SourceIndex:
    """The sources of some watchlists, indexed by HEALPix cell (see the module docstring)."""

    def __init__(self, lists: Iterable[tuple[int, Sequence[Source]]]):
        np = _np()
        wl_ids: list[int] = []
        sources: list[Source] = []
        for wl_id, items in lists:
            wl_ids += [wl_id] * len(items)
            sources += items
        self.size = len(sources)
        self.max_radius = max((s.radius for s in sources), default=0.0)
        self.depth = query_depth(self.max_radius) if sources else PIXEL_DEPTH
        ra = np.array([s.ra for s in sources], dtype=float)
        dec = np.array([s.decl for s in sources], dtype=float)
        cells = (np.asarray(cells_of(ra, dec, self.depth), dtype=np.int64)
                 if sources else np.zeros(0, dtype=np.int64))
        order = np.argsort(cells, kind="stable")
        self._cells = cells[order]
        self._ra = np.radians(ra[order])
        self._sin_dec = np.sin(np.radians(dec[order]))
        self._cos_dec = np.cos(np.radians(dec[order]))
        self._radius = np.array([s.radius for s in sources], dtype=float)[order]
        self._wl = np.array(wl_ids, dtype=np.int64)[order]
        self._sources = [sources[i] for i in order.tolist()]

    def candidates(self, ra: float, decl: float) -> Any:
        """Positions (into the sorted arrays) of the sources in the cells the largest cone around (ra, decl) touches."""
        np = _np()
        cells = np.asarray(cone_cells(ra, decl, self.max_radius, self.depth), dtype=np.int64)
        starts = np.searchsorted(self._cells, cells, side="left")
        ends = np.searchsorted(self._cells, cells, side="right")
        spans = [np.arange(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True) if b > a]
        return np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)

    def match(self, dia_object_id: int, ra: float, decl: float) -> list[Hit]:
        """Every source within its own radius of (ra, decl), nearest first."""
        if not self.size or not is_position(ra, decl):
            return []
        np = _np()
        at = self.candidates(ra, decl)
        if not len(at):
            return []
        d1 = np.radians(decl)
        s1, c1 = np.sin(d1), np.cos(d1)
        s2, c2 = self._sin_dec[at], self._cos_dec[at]
        dra = self._ra[at] - np.radians(ra % 360.0)
        across = np.hypot(c2 * np.sin(dra), c1 * s2 - s1 * c2 * np.cos(dra))
        along = s1 * s2 + c1 * c2 * np.cos(dra)
        arcsec = np.degrees(np.arctan2(across, along)) * 3600.0
        inside = arcsec <= self._radius[at]
        hits = [Hit(int(self._wl[i]), self._sources[i].cone_id, self._sources[i].name, float(a), int(dia_object_id))
                for i, a in zip(at[inside].tolist(), arcsec[inside].tolist(), strict=True)]
        return sorted(hits, key=lambda h: (h.arcsec, h.wl_id, h.cone_id))

    def match_all(self, positions: Iterable[tuple[int, float, float]]) -> list[Hit]:
        """The hits of every (diaObjectId, ra, decl)."""
        return [hit for dia_object_id, ra, decl in positions for hit in self.match(dia_object_id, ra, decl)]
