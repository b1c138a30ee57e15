"""Watchmaps: a sky area as a MOC (HEALPix cells at several depths), and whether it contains a position.

A MOC is read from its two text forms (IVOA MOC 2.0 / MOCPy):

- ASCII: ``depth/ipix ipix-ipix ...`` repeated, e.g. ``3/1-3 5 4/100`` (commas also separate, as
  MOC 1.1 wrote; a trailing ``depth/`` with no cells only states the MOC's depth);
- JSON: ``{"3": [1, 2, 3], "4": [100]}``.

FITS (Lasair's upload form, a binary table of NUNIQ values) is refused with :data:`FITS_REFUSAL`: the
maintained reader, mocpy, requires astropy, which took the Lambda layer to 228 MB of its 250 MB
(BENCHMARKS.md); ``MOC.from_fits(path).to_string()`` on the user's side gives the ASCII form.

A MOC is also built from a cone (:func:`from_cone`) with healpix-geo's cover (``domain/sky.py``): every
cell of the chosen depth the cone overlaps, so it contains the whole cone and at most a cell's width more.

Inside, a MOC is sorted, merged, half-open ranges of depth-29 nested indices (no NUNIQ): a cell ``c``
of depth ``d`` is the run ``[c * 4**(29-d), (c+1) * 4**(29-d))``, so "contains" is one bisect of the
position's depth-29 pixel (:func:`skystream.domain.sky.pixel_of`). Bad input is refused saying where
(the token or key) and what is wrong; nothing is stored.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from skystream.domain.errors import WatchmapError
from skystream.domain.sky import BASE_CELL_ARCSEC, PIXEL_DEPTH, cone_cells, pixel_of

MAX_DEPTH = PIXEL_DEPTH
"""Deepest depth a MOC may use: 29, HEALPix's deepest (0.4 mas cells)."""
MAX_RANGES = 100_000
"""Most ranges (runs of consecutive cells, after merging) in one watchmap. Lasair states no limit; a
gravitational-wave 90% region at depth 10 is a few thousand, and 100,000 ranges store in ~1.6 MB."""
MAX_TEXT_BYTES = 8_000_000
"""Largest MOC text accepted."""
MAX_CONE_RADIUS_DEG = 90.0
"""Largest cone a watchmap is built from (a hemisphere)."""
MAX_CONE_DEPTH = 16
"""Deepest depth of a cone-built MOC (~3.2" cells, the objects index's key depth)."""
CONE_CELLS_ACROSS = 20
"""A cone-built MOC's default depth makes its cells at most 1/20 of the radius wide: ~1,300 cells
whatever the radius, and the MOC overshoots the cone by at most 5% of the radius."""
FITS_REFUSAL = ("FITS MOCs are not supported yet (reading them needs astropy, too big for the Lambda layer): "
                "convert with mocpy's MOC.from_fits(path).to_string() and send the ASCII form")

_CELLS = 12 * 4**MAX_DEPTH
_TOKEN = re.compile(r"[\s,]+")
_DEPTH = re.compile(r"^(\d+)/(.*)$")
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class Moc:
    """A sky area: sorted, disjoint, non-adjacent half-open ranges ``[start, end)`` of depth-29 pixels.

    ``depth`` is the deepest depth the MOC was given at (its resolution), kept for export."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    depth: int

    def contains_pixel(self, pixel: int) -> bool:
        """Whether the depth-29 ``pixel`` lies in the MOC: one bisect."""
        i = bisect.bisect_right(self.starts, pixel) - 1
        return i >= 0 and pixel < self.ends[i]

    def contains(self, ra: float, decl: float) -> bool:
        """Whether the position (degrees) lies in the MOC."""
        return self.contains_pixel(pixel_of(ra, decl))

    @cached_property
    def _bounds(self) -> tuple[Any, Any]:
        """``starts`` and ``ends`` as int64 arrays, made once per MOC: the matcher keeps a MOC for the process
        and searches it every batch, and converting 100,000 ranges took 100 times the search itself."""
        import numpy as np

        return np.asarray(self.starts, dtype=np.int64), np.asarray(self.ends, dtype=np.int64)

    def contains_pixels(self, pixels: Any) -> Any:
        """Whether each of an array of depth-29 pixels lies in the MOC (one vectorised search)."""
        import numpy as np

        pix = np.asarray(pixels, dtype=np.int64)
        if not self.starts:
            return np.zeros(pix.shape, dtype=bool)
        starts, ends = self._bounds
        i = np.searchsorted(starts, pix, side="right") - 1
        ok = i >= 0
        return ok & (pix < ends[np.where(ok, i, 0)])

    @property
    def ranges(self) -> int:
        """How many ranges the MOC holds (the stored size)."""
        return len(self.starts)

    def sky_fraction(self) -> float:
        """The fraction of the sky the MOC covers."""
        return sum(e - s for s, e in zip(self.starts, self.ends, strict=True)) / _CELLS


def _merge(runs: list[tuple[int, int]], depth: int) -> Moc:
    """The MOC of some depth-29 runs (any order, overlapping or not), merged; refused above the limit."""
    runs.sort()
    starts: list[int] = []
    ends: list[int] = []
    for s, e in runs:
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    if len(starts) > MAX_RANGES:
        raise WatchmapError(f"the MOC has {len(starts)} ranges of cells after merging, more than the {MAX_RANGES} "
                            "a watchmap may hold: send it at a coarser depth (mocpy: moc.degrade_to_order(d))")
    return Moc(tuple(starts), tuple(ends), depth)


def _run(depth: int, first: int, last: int, where: str) -> tuple[int, int]:
    """Depth-29 run of the cells ``first..last`` of ``depth``, checked against the depth's cell count."""
    count = 12 * 4**depth
    if first > last:
        raise WatchmapError(f"{where}: range {first}-{last} runs backwards; write it low-high")
    if last >= count:
        raise WatchmapError(f"{where}: cell {last} does not exist at depth {depth} (cells are 0..{count - 1})")
    shift = 2 * (MAX_DEPTH - depth)
    return first << shift, (last + 1) << shift


def _check_depth(text: str, where: str) -> int:
    depth = int(text)
    if depth > MAX_DEPTH:
        raise WatchmapError(f"{where}: depth {depth} is deeper than {MAX_DEPTH}, HEALPix's deepest")
    return depth


def parse_ascii(text: str) -> Moc:
    """Read a MOC's ASCII form (``3/1-3 5 4/100``); refused naming the token and what is wrong."""
    tokens = [t for t in _TOKEN.split(text.strip()) if t]
    if not tokens:
        raise WatchmapError("the MOC is empty: give cells as depth/ipix, e.g. '3/1-3 5 4/100'")
    depth: int | None = None
    deepest = 0
    runs: list[tuple[int, int]] = []
    for n, token in enumerate(tokens, start=1):
        where = f"token {n} '{token[:40]}'"
        found = _DEPTH.match(token)
        if found:
            depth = _check_depth(found.group(1), where)
            deepest = max(deepest, depth)
            token = found.group(2)
            if not token:
                continue
        if depth is None:
            raise WatchmapError(f"{where}: a cell before any depth; start with depth/, e.g. '3/{token}'")
        cells = _RANGE.match(token)
        if not cells:
            raise WatchmapError(f"{where}: not a cell number or range (write ipix or ipix-ipix after depth/)")
        first = int(cells.group(1))
        last = int(cells.group(2)) if cells.group(2) is not None else first
        runs.append(_run(depth, first, last, where))
        if len(runs) > 4 * MAX_RANGES:
            raise WatchmapError(f"the MOC lists more than {4 * MAX_RANGES} cells or ranges; send it at a coarser depth")
    return _merge(runs, deepest)


def parse_json(data: Any) -> Moc:
    """Read a MOC's JSON form (``{"3": [1, 2, 3], "4": [100]}``, text or already decoded)."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise WatchmapError(f"the MOC is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WatchmapError("a JSON MOC is an object of depth: [cells], e.g. {\"3\": [1, 2, 3], \"4\": [100]}")
    runs: list[tuple[int, int]] = []
    deepest = 0
    for key, cells in data.items():
        where = f"key '{str(key)[:20]}'"
        if not re.fullmatch(r"\d+", str(key)):
            raise WatchmapError(f"{where}: a depth is a whole number from 0 to {MAX_DEPTH}")
        depth = _check_depth(str(key), where)
        deepest = max(deepest, depth)
        if not isinstance(cells, list):
            raise WatchmapError(f"{where}: the cells of a depth are a list of whole numbers")
        for i, cell in enumerate(cells):
            if not isinstance(cell, int) or isinstance(cell, bool) or cell < 0:
                raise WatchmapError(f"{where}, item {i}: {str(cell)[:40]!r} is not a cell number (a whole number >= 0)")
            runs.append(_run(depth, cell, cell, f"{where}, item {i}"))
        if len(runs) > 4 * MAX_RANGES:
            raise WatchmapError(f"the MOC lists more than {4 * MAX_RANGES} cells; send it at a coarser depth")
    if not runs:
        raise WatchmapError("the MOC is empty: give at least one cell, e.g. {\"3\": [1]}")
    return _merge(runs, deepest)


def parse(moc: str | bytes) -> Moc:
    """Read a MOC in whichever text form it is (JSON if it starts with ``{``, else ASCII); FITS is refused."""
    if isinstance(moc, bytes):
        if moc.startswith(b"SIMPLE"):
            raise WatchmapError(FITS_REFUSAL)
        try:
            moc = moc.decode("utf-8")
        except UnicodeDecodeError:
            raise WatchmapError("the MOC is not text (UTF-8): send its ASCII or JSON form") from None
    if len(moc.encode("utf-8")) > MAX_TEXT_BYTES:
        raise WatchmapError(f"the MOC text is larger than {MAX_TEXT_BYTES} bytes; send it at a coarser depth")
    if moc.startswith("SIMPLE"):
        raise WatchmapError(FITS_REFUSAL)
    return parse_json(moc) if moc.lstrip().startswith("{") else parse_ascii(moc)


def cone_depth(radius_arcsec: float) -> int:
    """The depth whose cells are at most 1/:data:`CONE_CELLS_ACROSS` of the radius wide (at most 16)."""
    depth = math.ceil(math.log2(CONE_CELLS_ACROSS * BASE_CELL_ARCSEC / radius_arcsec))
    return max(0, min(MAX_CONE_DEPTH, depth))


def from_cone(ra: float, decl: float, radius_arcsec: float, depth: int | None = None) -> Moc:
    """The MOC of every cell of ``depth`` (default :func:`cone_depth`) the cone overlaps: it contains the
    whole cone, and nothing further from the centre than the radius plus a cell's diagonal."""
    for name, value in (("ra", ra), ("dec", decl), ("radius", radius_arcsec)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise WatchmapError(f"cone {name} {value!r} is not a finite number of degrees (radius: arcsec)")
    if not -90.0 <= decl <= 90.0:
        raise WatchmapError(f"cone dec {decl} is outside -90..90 degrees")
    if not 0 < radius_arcsec <= MAX_CONE_RADIUS_DEG * 3600:
        raise WatchmapError(f"cone radius {radius_arcsec} arcsec is not in (0, {MAX_CONE_RADIUS_DEG * 3600:.0f}]")
    depth = cone_depth(radius_arcsec) if depth is None else depth
    if not 0 <= depth <= MAX_CONE_DEPTH:
        raise WatchmapError(f"cone depth {depth} is not in 0..{MAX_CONE_DEPTH}")
    shift = 2 * (MAX_DEPTH - depth)
    return _merge([(c << shift, (c + 1) << shift) for c in cone_cells(ra, decl, radius_arcsec, depth)], depth)


def to_cells(moc: Moc) -> dict[int, list[int]]:
    """The MOC as its fewest cells, by depth (each range split into the largest aligned cells)."""
    cells: dict[int, list[int]] = {}
    for start, end in zip(moc.starts, moc.ends, strict=True):
        s = start
        while s < end:
            depth = max(0, MAX_DEPTH - ((s & -s).bit_length() - 1) // 2) if s else 0
            while (1 << (2 * (MAX_DEPTH - depth))) > end - s:
                depth += 1
            size = 1 << (2 * (MAX_DEPTH - depth))
            cells.setdefault(depth, []).append(s // size)
            s += size
    return dict(sorted(cells.items()))


def to_ascii(moc: Moc) -> str:
    """The MOC's ASCII form (``3/1-3 5 4/100``), reading back to the same MOC; ends with its depth."""
    parts: list[str] = []
    cells = to_cells(moc)
    for depth, ipix in cells.items():
        ipix.sort()
        items: list[str] = []
        first = last = ipix[0]
        for p in [*ipix[1:], None]:
            if p is not None and p == last + 1:
                last = p
                continue
            items.append(str(first) if first == last else f"{first}-{last}")
            if p is not None:
                first = last = p
        parts.append(f"{depth}/" + " ".join(items))
    if moc.depth not in cells:
        parts.append(f"{moc.depth}/")
    return " ".join(parts)


def to_json(moc: Moc) -> dict[str, list[int]]:
    """The MOC's JSON form."""
    return {str(d): sorted(c) for d, c in to_cells(moc).items()}


def encode(moc: Moc) -> dict[str, Any]:
    """The MOC as stored: its depth and the flat list of range bounds."""
    return {"depth": moc.depth, "bounds": [v for pair in zip(moc.starts, moc.ends, strict=True) for v in pair]}


def decode(data: dict[str, Any]) -> Moc:
    """The MOC from :func:`encode`'s form."""
    bounds = data["bounds"]
    return Moc(tuple(bounds[0::2]), tuple(bounds[1::2]), int(data["depth"]))


@dataclass(frozen=True)
class Watchmap:
    """A watchmap's settings (its MOC is stored and read apart)."""

    ar_id: int
    owner: int
    name: str
    description: str
    public: bool
    active: bool
    ranges: int
    depth: int
    sky_fraction: float
    created: str
    version: int = 1

    def readable_by(self, user_id: int) -> bool:
        """Its owner may read it, and anyone if it is public (as a watchlist)."""
        return self.public or self.owner == int(user_id)
