"""Watchlists: their lifecycle for the API, who may use one in a filter, and the hits of a batch.

- :class:`WatchlistService`: create from text (``domain/watchlists.py`` parses it; nothing is stored
  unless every line is good), list (yours and the public ones), show, export, change, delete
  (owner only). Another user's private watchlist is answered exactly as a missing one
  (404 ``no watchlist N``), so its existence is not revealed.
- :func:`readable`: the check a filter's save and run-now make on the ``watchlist:N`` it names.
- :class:`WatchlistMatcher`: the ``watchlist_hits`` rows of a batch's positions for the watchlists its
  filters name. A watchlist's sources never change after creation (``storage/watchlists.py``), so they are
  read once per process, and one index of all the watchlists a batch names (``domain/watchlist_match.py``)
  is built and kept while later batches name the same ones; the settings (active, deleted)
  are re-read at most every :data:`SETTINGS_TTL_S` seconds, one BatchGetItem for all of them. A batch
  whose filters name no watchlist never calls it (``services/joins.py``). :meth:`WatchlistMatcher.unreadable`
  lets the matcher refuse, at match time, a saved filter whose owner may no longer read a watchlist it names.
- :meth:`WatchlistService.rerun`: the hits of a watchlist among the stored objects, through the objects' sky
  index (no table scan): the union of the sources' cone ranges, merged, one Query each, then the exact
  distances of :class:`SourceIndex` over the candidates' positions. Capped (:data:`MAX_RERUN_RANGES`,
  :data:`MAX_RERUN_CANDIDATES`, :data:`MAX_RERUN_HITS`); :func:`rerun_scan` is shared with the watchmaps' rerun.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from skystream.domain.errors import (
    Forbidden,
    NotFound,
    SkystreamError,
    UnknownWatchlist,
    UnknownWatchmap,
    WatchlistError,
    WatchmapError,
)
from skystream.domain.sky import PixelRange, SkyPoint, cone_ranges, merge_ranges
from skystream.domain.users import User
from skystream.domain.watchlist_match import SourceIndex
from skystream.domain.watchlists import (
    DEFAULT_RADIUS_ARCSEC,
    MAX_NAME_CHARS,
    Source,
    Watchlist,
    check_radius,
    export_text,
    parse_sources,
)
from skystream.ports import SkyIndexReader, WatchlistReader, WatchlistRepository

SETTINGS_TTL_S = 30.0
"""How long the matcher trusts a watchlist's settings (active, deleted) before reading them again."""
CHANGEABLE = frozenset({"name", "description", "public", "active"})
MAX_RERUN_RANGES = 2_000
"""The most index ranges (one DynamoDB Query each) a rerun reads, and so the most sources a watchlist rerun
takes: past it the rerun is refused (400) before any read, naming the limit. Chosen so that the Queries, one
after another at DynamoDB's few milliseconds each (not measured on AWS here), stay well within the API's 29 s."""
MAX_RERUN_CANDIDATES = 50_000
"""The most objects the ranges may hold (their positions are read, 100 per BatchGetItem call: at most 500
calls): past it the rerun is refused (400) after the Queries and before any BatchGetItem, naming the limit."""
MAX_RERUN_HITS = 10_000
"""The most hits a rerun answers: past it the first ones (by diaObjectId) and ``truncated: true``."""


@dataclass(frozen=True)
class Rerun:
    """The hits of a watchlist or watchmap among the stored objects, and what reading them cost."""

    hits: list[dict[str, Any]]
    """``watchlist_hits`` rows (diaObjectId, wl_id, cone_id, name, arcsec) or ``area_hits`` rows (diaObjectId,
    ar_id), by diaObjectId."""
    ranges: int
    """Index ranges read (merged): one Query each, more for a range over 1 MB of index."""
    queries: int
    gets: int
    """BatchGetItem calls reading the candidates' positions (100 a call)."""
    candidates: int
    """Objects the ranges held (the hits are those inside)."""
    truncated: bool
    """More than :data:`MAX_RERUN_HITS` hits: only the first are answered."""


def rerun_scan(index: SkyIndexReader, ranges: list[PixelRange], what: str,
               error: type[WatchlistError] | type[WatchmapError]) -> tuple[list[PixelRange], list[SkyPoint], int, int]:
    """Merge ``ranges`` and read their objects from the sky index, refused with ``error`` naming
    :data:`MAX_RERUN_RANGES` (before any read) or :data:`MAX_RERUN_CANDIDATES` (before any BatchGetItem) when
    more; the merged ranges, the candidates, Queries and BatchGetItem calls."""
    merged = merge_ranges(ranges)
    if len(merged) > MAX_RERUN_RANGES:
        raise error(f"{what} needs {len(merged):,} index ranges; a rerun reads at most {MAX_RERUN_RANGES:,} "
                    "(split it, or use it in a filter, which matches each new alert)")
    scan = index.in_sky_ranges(merged, limit=MAX_RERUN_CANDIDATES)
    if scan.over:
        raise error(f"{what} covers {scan.over:,} stored objects; a rerun reads the positions of at most "
                    f"{MAX_RERUN_CANDIDATES:,} (split it, or use it in a filter, which matches each new alert)")
    return merged, scan.points, scan.queries, scan.gets


def capped(hits: list[dict[str, Any]], merged: list[PixelRange], points: list[SkyPoint], queries: int,
           gets: int) -> Rerun:
    """A :class:`Rerun` of sorted ``hits``, the first :data:`MAX_RERUN_HITS` of them."""
    return Rerun(hits=hits[:MAX_RERUN_HITS], ranges=len(merged), queries=queries, gets=gets,
                 candidates=len(points), truncated=len(hits) > MAX_RERUN_HITS)


@dataclass(frozen=True)
class NewWatchlist:
    """What a user sends to create a watchlist (the API model validates the types)."""

    name: str
    text: str
    radius: float = DEFAULT_RADIUS_ARCSEC
    description: str = ""
    public: bool = False
    active: bool = True


def checked_name(name: str, error: type[SkystreamError]) -> str:
    """A watchlist's or watchmap's name, trimmed; ``error`` (the kind's 400) unless 1 to MAX_NAME_CHARS printable."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise error(f"name: 1 to {MAX_NAME_CHARS} printable characters")
    return name


class _Catalogue(Protocol):
    """A watchlist's or a watchmap's settings, as far as access and matching look at them."""

    owner: int
    public: bool
    active: bool

    def readable_by(self, user_id: int) -> bool: ...


class _Settings(Protocol):
    def many(self, ids: list[int]) -> Mapping[int, _Catalogue]: ...


_KINDS: dict[str, tuple[type[NotFound], str, str]] = {
    "watchlist": (UnknownWatchlist, "wl_id", "GET /watchlists"),
    "watchmap": (UnknownWatchmap, "ar_id", "GET /watchmaps"),
}
"""Per kind of catalogue a filter names: the error of one it may not read, the error's id field, the listing."""


def readable(store: _Settings, user_id: int, ids: Collection[int], kind: str = "watchlist") -> dict[int, Any]:
    """The watchlists (or watchmaps, ``kind="watchmap"``) ``ids`` if ``user_id`` may read each (own or public);
    else :class:`UnknownWatchlist` (:class:`UnknownWatchmap`) naming the first that is missing or private to
    another user (the same words for both). One check for both kinds, at save, run-now and (through
    :meth:`CatalogueSettings.unreadable`) match time."""
    error, field, listing = _KINDS[kind]
    found = dict(store.many(sorted(ids))) if ids else {}
    for n in sorted(ids):
        w = found.get(n)
        if w is None or not w.readable_by(user_id):
            raise error(f"no {kind} {n}: write {kind}:N with the id of one of yours or a public "
                        f"one ({listing} lists them)", **{field: n})
    return found


class CatalogueSettings:
    """The settings (active, deleted, public) of the watchlists or watchmaps a matcher uses, re-read at most every
    :data:`SETTINGS_TTL_S` seconds with one BatchGetItem for all of them: shared by both matchers."""

    def __init__(self, store: _Settings, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.clock = clock
        self._settings: dict[int, _Catalogue | None] = {}
        self._read_at = -float("inf")

    def _active(self, ids: Collection[int]) -> list[int]:
        now = self.clock()
        missing = [i for i in ids if i not in self._settings]
        if now - self._read_at > SETTINGS_TTL_S:
            wanted = sorted(set(ids) | set(self._settings))
            found = self.store.many(wanted)
            self._settings = {i: found.get(i) for i in wanted}
            self._read_at = now
        elif missing:
            found = self.store.many(sorted(missing))
            self._settings.update({i: found.get(i) for i in missing})
        return sorted(i for i in ids if (w := self._settings.get(i)) is not None and w.active)

    def unreadable(self, owner: int, ids: Collection[int]) -> list[int]:
        """Those of ``ids`` that ``owner`` may not read now: deleted, or made private by another user since a
        filter naming it was saved (settings as fresh as :data:`SETTINGS_TTL_S`)."""
        self._active(ids)
        return sorted(i for i in ids if (w := self._settings.get(i)) is None or not w.readable_by(owner))


class CatalogueLifecycle:
    """What the watchlists' and the watchmaps' services share: list, show, owner-only change and delete.

    A subclass names its ``kind`` ("watchlist" or "watchmap"), its 400 ``error``, the field of its id
    (``id_field``) and what may never change (``fixed``, a clause for the refusal)."""

    kind: str
    error: type[SkystreamError]
    id_field: str
    fixed: str

    def __init__(self, store: Any, index: SkyIndexReader):
        self.store = store
        self.index = index

    def listing(self, user: User) -> list[Any]:
        """Yours and everyone's public ones, by id."""
        return sorted((c for c in self.store.all() if c.readable_by(user.user_id)),
                      key=lambda c: getattr(c, self.id_field))

    def visible(self, user: User, catalogue_id: int) -> Any:
        return readable(self.store, user.user_id, [catalogue_id], kind=self.kind)[catalogue_id]

    def editable(self, user: User, catalogue_id: int) -> Any:
        c = self.visible(user, catalogue_id)
        if c.owner != user.user_id:
            raise Forbidden(f"{self.kind} {catalogue_id} belongs to another user; only its owner may change or "
                            "delete it")
        return c

    def update(self, user: User, catalogue_id: int, changes: dict[str, Any]) -> Any:
        current = self.editable(user, catalogue_id)
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise self.error(f"cannot change {', '.join(sorted(unknown))}: {self.fixed} "
                             "(create a new one); change name, description, public or active")
        if "name" in changes:
            changes = {**changes, "name": checked_name(str(changes["name"]), self.error)}
        return self.store.update(catalogue_id, changes) if changes else current

    def delete(self, user: User, catalogue_id: int) -> Any:
        c = self.editable(user, catalogue_id)
        self.store.delete(catalogue_id)
        return c


class WatchlistService(CatalogueLifecycle):
    """The watchlists' lifecycle (see the module docstring)."""

    kind, error, id_field, fixed = "watchlist", WatchlistError, "wl_id", "the sources of a watchlist are fixed"
    store: WatchlistRepository

    def __init__(self, store: WatchlistRepository, index: SkyIndexReader):
        super().__init__(store, index)

    def create(self, user: User, new: NewWatchlist) -> Watchlist:
        radius = check_radius(new.radius, "radius")
        sources = parse_sources(new.text, default_radius=radius)
        return self.store.add(owner=user.user_id, name=checked_name(new.name, WatchlistError), description=new.description,
                              radius=radius, public=new.public, active=new.active, sources=sources)

    def export(self, user: User, wl_id: int) -> str:
        """The sources as text that creates the same watchlist again."""
        self.visible(user, wl_id)
        return export_text(self.store.sources(wl_id))

    def rerun(self, user: User, wl_id: int) -> Rerun:
        """The stored objects within a source's radius (exact distance), through the sky index (module docstring)."""
        self.visible(user, wl_id)
        sources = self.store.sources(wl_id)
        if len(sources) > MAX_RERUN_RANGES:
            raise WatchlistError(f"watchlist {wl_id} has {len(sources):,} sources; a rerun takes at most "
                                 f"{MAX_RERUN_RANGES:,} (split it, or use it in a filter, which matches each new alert)")
        ranges = [r for s in sources for r in cone_ranges(s.ra, s.decl, s.radius)]
        merged, points, queries, gets = rerun_scan(self.index, ranges, f"watchlist {wl_id}", WatchlistError)
        hits = SourceIndex([(wl_id, sources)]).match_all((p.dia_object_id, p.ra, p.decl) for p in points)
        rows = [h.row() for h in sorted(hits, key=lambda h: (h.dia_object_id, h.cone_id))]
        return capped(rows, merged, points, queries, gets)


class WatchlistMatcher(CatalogueSettings):
    """The ``watchlist_hits`` rows of positions, against active watchlists (see the module docstring)."""

    store: WatchlistReader

    def __init__(self, store: WatchlistReader, clock: Callable[[], float] = time.monotonic):
        super().__init__(store, clock)
        self._sources: dict[int, list[Source]] = {}
        self._combined: tuple[frozenset[int], SourceIndex] | None = None

    def sources(self, wl_id: int) -> list[Source]:
        """A watchlist's sources, read once per process (they never change)."""
        if wl_id not in self._sources:
            self._sources[wl_id] = self.store.sources(wl_id)
        return self._sources[wl_id]

    def index(self, wl_ids: Collection[int]) -> SourceIndex:
        """One sky index of the sources of all ``wl_ids``, kept while the batches name the same watchlists: one
        cone cover per position for all of them (ten separate indexes cost ten; benchmarks/watchlist.py)."""
        key = frozenset(wl_ids)
        if self._combined is None or self._combined[0] != key:
            self._combined = (key, SourceIndex([(i, self.sources(i)) for i in sorted(key)]))
        return self._combined[1]

    def rows(self, wl_ids: Collection[int], positions: Sequence[tuple[int, float, float]]) -> list[dict[str, Any]]:
        """One row per (object, source) within the source's radius, for the active ones of ``wl_ids``."""
        active = self._active(wl_ids)
        if not active:
            return []
        return [hit.row() for hit in self.index(active).match_all(positions)]
