"""Watchmaps: their lifecycle for the API, and the ``area_hits`` of a batch (as watchlists, services/watchlists.py).

- :class:`WatchmapService`: create from a MOC's text (ASCII or JSON, ``domain/watchmaps.py``; FITS refused)
  or from a cone, list (yours and the public ones), show, export (ASCII MOC), change, delete (owner only).
  Another user's private watchmap is answered exactly as a missing one (404 ``no watchmap N``): the
  access check is the watchlists' :func:`~skystream.services.watchlists.readable`, ``kind="watchmap"``.
- :meth:`WatchmapService.rerun`: the stored objects whose positions the MOC contains, through the objects' sky
  index: the MOC's depth-29 ranges widened to whole key pixels (``domain/sky.py`` ``key_ranges``), merged,
  queried, then ``Moc.contains_pixels`` on the candidates' exact positions; capped as a watchlist's rerun.
- :class:`WatchmapMatcher`: the ``area_hits`` rows (``diaObjectId``, ``ar_id``) of a batch's positions for
  the active watchmaps its filters name. A MOC never changes after creation, so it is read once per
  process; each position's depth-29 pixel is computed once per batch and searched in every MOC
  (``Moc.contains_pixels``). Settings and match-time access as watchlists (``CatalogueSettings``).
  A batch whose filters name no watchmap never calls it (``services/joins.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from skystream.domain.errors import WatchmapError
from skystream.domain.sky import PIXEL_DEPTH, cells_of, is_position, key_ranges
from skystream.domain.users import User
from skystream.domain.watchmaps import Moc, Watchmap, from_cone, parse, to_ascii
from skystream.ports import SkyIndexReader, WatchmapReader, WatchmapRepository
from skystream.services.watchlists import (
    CatalogueLifecycle,
    CatalogueSettings,
    Rerun,
    capped,
    checked_name,
    rerun_scan,
)


@dataclass(frozen=True)
class ConeArea:
    """A cone to build a watchmap from: centre (degrees), radius (arcsec), optional depth."""

    ra: float
    dec: float
    radius: float
    depth: int | None = None


@dataclass(frozen=True)
class NewWatchmap:
    """What a user sends to create a watchmap: a MOC's text, or a cone (exactly one)."""

    name: str
    moc: str | None = None
    cone: ConeArea | None = None
    description: str = ""
    public: bool = False
    active: bool = True


def area_of(new: NewWatchmap) -> Moc:
    """The MOC a request describes: its text read, or its cone covered; refused unless exactly one is given."""
    if (new.moc is None) == (new.cone is None):
        raise WatchmapError("give either moc (an ASCII or JSON MOC) or cone (ra, dec, radius), not both or neither")
    if new.cone is not None:
        return from_cone(new.cone.ra, new.cone.dec, new.cone.radius, new.cone.depth)
    return parse(new.moc or "")


def pixels_of(positions: Sequence[tuple[float, float]]) -> Any:
    """The depth-29 pixels of some (ra, dec) positions, in one vectorised call (for ``Moc.contains_pixels``):
    a scalar ``pixel_of`` each took 27 times as long over a rerun's 50,000 candidates."""
    import numpy as np

    return cells_of(np.array([p[0] for p in positions], dtype=float), np.array([p[1] for p in positions], dtype=float),
                    PIXEL_DEPTH)


class WatchmapService(CatalogueLifecycle):
    """The watchmaps' lifecycle (see the module docstring)."""

    kind, error, id_field, fixed = "watchmap", WatchmapError, "ar_id", "the area of a watchmap is fixed"
    store: WatchmapRepository

    def __init__(self, store: WatchmapRepository, index: SkyIndexReader):
        super().__init__(store, index)

    def create(self, user: User, new: NewWatchmap) -> Watchmap:
        name = checked_name(new.name, WatchmapError)
        return self.store.add(owner=user.user_id, name=name, description=new.description, public=new.public,
                              active=new.active, moc=area_of(new))

    def export(self, user: User, ar_id: int) -> str:
        """The MOC's ASCII form (creates the same watchmap again)."""
        self.visible(user, ar_id)
        return to_ascii(self.store.moc(ar_id))

    def rerun(self, user: User, ar_id: int) -> Rerun:
        """The stored objects whose position the MOC contains, through the sky index (module docstring)."""
        self.visible(user, ar_id)
        moc = self.store.moc(ar_id)
        ranges = [r for start, end in zip(moc.starts, moc.ends, strict=True) for r in key_ranges(start, end)]
        merged, points, queries, gets = rerun_scan(self.index, ranges, f"watchmap {ar_id}", WatchmapError)
        inside = moc.contains_pixels(pixels_of([(p.ra, p.decl) for p in points])) if points else []
        rows = [{"diaObjectId": p.dia_object_id, "ar_id": ar_id} for p, yes in zip(points, inside, strict=True) if yes]
        return capped(sorted(rows, key=lambda r: r["diaObjectId"]), merged, points, queries, gets)


class WatchmapMatcher(CatalogueSettings):
    """The ``area_hits`` rows of positions, against active watchmaps (see the module docstring)."""

    store: WatchmapReader

    def __init__(self, store: WatchmapReader, clock: Callable[[], float] = time.monotonic):
        super().__init__(store, clock)
        self._mocs: dict[int, Moc] = {}

    def moc(self, ar_id: int) -> Moc:
        """A watchmap's MOC, read once per process (it never changes)."""
        if ar_id not in self._mocs:
            self._mocs[ar_id] = self.store.moc(ar_id)
        return self._mocs[ar_id]

    def rows(self, ar_ids: Collection[int], positions: Sequence[tuple[int, Any, Any]]) -> list[dict[str, Any]]:
        """One row per (object, watchmap) whose MOC contains the object's position, for the active ones."""
        active = self._active(ar_ids)
        placed = [(oid, ra, dec) for oid, ra, dec in positions if is_position(ra, dec)]
        if not active or not placed:
            return []
        import numpy as np

        pixels = pixels_of([(ra, dec) for _oid, ra, dec in placed])
        rows: list[dict[str, Any]] = []
        for ar_id in active:
            inside = self.moc(ar_id).contains_pixels(pixels)
            rows.extend({"diaObjectId": placed[i][0], "ar_id": ar_id} for i in np.flatnonzero(inside))
        return rows
