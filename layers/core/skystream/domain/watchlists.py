"""Watchlists: a user's catalogue of sources, each a cone (position and radius) with a name.

A watchlist is created from text, as Lasair takes it: one source a line, ``RA, Dec, name[, radius]``,
comma or ``|`` separated, decimal degrees, the radius in arcsec (the watchlist's default radius when a
line gives none); a first line that is not a position (a header such as ``ra, dec, name``) is skipped,
as are blank lines and lines starting with ``#``. Limits (Lasair's, plus a stated source count):
radius at most :data:`MAX_RADIUS_ARCSEC`, at most :data:`MAX_SOURCES` sources. A bad line is refused
with its line number and what is wrong, and nothing is stored (bad input loses nothing: the user fixes
the line and sends the same text again).

Pure: parsing, the stored meta-data and the text export; storage is ``storage/watchlists.py``, the
crossmatch ``domain/watchlist_match.py``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from skystream.domain.errors import WatchlistError

MAX_RADIUS_ARCSEC = 1800.0
"""Largest cone radius, Lasair's limit (half a degree)."""
MAX_SOURCES = 100_000
"""Most sources in one watchlist. Lasair documents no number; 100,000 is what skystream measures
(benchmarks/watchlist.py: ten such watchlists in one batch) and stores in ~2 MB."""
DEFAULT_RADIUS_ARCSEC = 2.0
"""The default radius when neither the request nor a line gives one (Lasair's form starts at 2")."""
MAX_NAME_CHARS = 100
"""Longest source name (Lasair's ``name`` is a string; a long one would only bloat every hit)."""
MAX_TEXT_BYTES = 8_000_000
"""Largest text accepted (100,000 lines of ~80 characters)."""

_SPLIT = re.compile(r"\s*[,|]\s*")


@dataclass(frozen=True)
class Source:
    """One cone of a watchlist: ``cone_id`` is its place in the list (1-based, Lasair's cone_id)."""

    cone_id: int
    ra: float
    decl: float
    name: str
    radius: float


@dataclass(frozen=True)
class Watchlist:
    """A watchlist's settings (its sources are stored and read apart: up to 100,000 of them)."""

    wl_id: int
    owner: int
    name: str
    description: str
    radius: float
    public: bool
    active: bool
    count: int
    created: str
    version: int = 1

    def readable_by(self, user_id: int) -> bool:
        """Its owner may read it, and anyone if it is public."""
        return self.public or self.owner == int(user_id)


def check_radius(radius: float, where: str = "radius") -> float:
    """A radius in (0, :data:`MAX_RADIUS_ARCSEC`] arcsec, or a refusal saying so."""
    if not (isinstance(radius, (int, float)) and math.isfinite(radius) and 0 < radius <= MAX_RADIUS_ARCSEC):
        raise WatchlistError(f"{where}: {radius!r} is not a radius in arcsec greater than 0 and at most "
                             f"{MAX_RADIUS_ARCSEC:g} (Lasair's limit)")
    return float(radius)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_sources(text: str, default_radius: float = DEFAULT_RADIUS_ARCSEC) -> list[Source]:
    """The sources of ``text`` (see the module docstring); :class:`WatchlistError` names the first bad line."""
    check_radius(default_radius, "default radius")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise WatchlistError(f"the text is larger than {MAX_TEXT_BYTES:,} bytes; a watchlist holds at most "
                             f"{MAX_SOURCES:,} sources")
    sources: list[Source] = []
    seen_data = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = _SPLIT.split(line)
        ra, decl = (_number(fields[0]), _number(fields[1])) if len(fields) >= 2 else (None, None)
        if not seen_data and ra is None:
            seen_data = True
            continue  # a header line: a first line whose RA is not a number
        seen_data = True
        where = f"line {number}"
        if len(fields) < 3 or len(fields) > 4:
            raise WatchlistError(f"{where}: {len(fields)} field(s) in {line[:80]!r}; write RA, Dec, name[, radius] "
                                 "separated by , or |")
        if ra is None or not 0.0 <= ra < 360.0:
            raise WatchlistError(f"{where}: RA {fields[0][:40]!r} is not a number of degrees in [0, 360)")
        if decl is None or not -90.0 <= decl <= 90.0:
            raise WatchlistError(f"{where}: Dec {fields[1][:40]!r} is not a number of degrees in [-90, 90]")
        name = fields[2].strip()
        if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
            raise WatchlistError(f"{where}: the name must be 1 to {MAX_NAME_CHARS} printable characters")
        radius = default_radius
        if len(fields) == 4 and fields[3].strip():
            value = _number(fields[3])
            if value is None:
                raise WatchlistError(f"{where}: radius {fields[3][:40]!r} is not a number of arcsec")
            radius = check_radius(value, f"{where}: radius")
        if len(sources) >= MAX_SOURCES:
            raise WatchlistError(f"{where}: a watchlist holds at most {MAX_SOURCES:,} sources; split the list")
        sources.append(Source(len(sources) + 1, ra, decl, name, radius))
    if not sources:
        raise WatchlistError("the text holds no sources: write one line per source, RA, Dec, name[, radius]")
    return sources


def export_text(sources: list[Source]) -> str:
    """The sources as text that :func:`parse_sources` reads back to the same sources (``repr`` keeps every digit)."""
    lines = ["ra, dec, name, radius"]
    lines += [f"{s.ra!r}, {s.decl!r}, {s.name}, {s.radius!r}" for s in sources]
    return "\n".join(lines) + "\n"
