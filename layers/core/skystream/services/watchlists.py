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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from skystream.domain.errors import Forbidden, UnknownWatchlist, WatchlistError
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
from skystream.ports import WatchlistReader, WatchlistRepository

SETTINGS_TTL_S = 30.0
"""How long the matcher trusts a watchlist's settings (active, deleted) before reading them again."""
CHANGEABLE = frozenset({"name", "description", "public", "active"})


@dataclass(frozen=True)
class NewWatchlist:
    """What a user sends to create a watchlist (the API model validates the types)."""

    name: str
    text: str
    radius: float = DEFAULT_RADIUS_ARCSEC
    description: str = ""
    public: bool = False
    active: bool = True


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise WatchlistError(f"name: 1 to {MAX_NAME_CHARS} printable characters")
    return name


def readable(store: WatchlistReader, user_id: int, ids: Collection[int]) -> dict[int, Watchlist]:
    """The watchlists ``ids`` if ``user_id`` may read each (own or public); else :class:`UnknownWatchlist`
    naming the first that is missing or private to another user (the same words for both)."""
    found = store.many(sorted(ids)) if ids else {}
    for wl_id in sorted(ids):
        w = found.get(wl_id)
        if w is None or not w.readable_by(user_id):
            raise UnknownWatchlist(f"no watchlist {wl_id}: write watchlist:N with the id of one of yours or a public "
                                   "one (GET /watchlists lists them)", wl_id=wl_id)
    return found


class WatchlistService:
    """The watchlists' lifecycle (see the module docstring)."""

    def __init__(self, store: WatchlistRepository):
        self.store = store

    def create(self, user: User, new: NewWatchlist) -> Watchlist:
        radius = check_radius(new.radius, "radius")
        sources = parse_sources(new.text, default_radius=radius)
        return self.store.add(owner=user.user_id, name=_check_name(new.name), description=new.description,
                              radius=radius, public=new.public, active=new.active, sources=sources)

    def listing(self, user: User) -> list[Watchlist]:
        """Yours and everyone's public ones, by id."""
        return sorted((w for w in self.store.all() if w.readable_by(user.user_id)), key=lambda w: w.wl_id)

    def visible(self, user: User, wl_id: int) -> Watchlist:
        return readable(self.store, user.user_id, [wl_id])[wl_id]

    def editable(self, user: User, wl_id: int) -> Watchlist:
        w = self.visible(user, wl_id)
        if w.owner != user.user_id:
            raise Forbidden(f"watchlist {wl_id} belongs to another user; only its owner may change or delete it")
        return w

    def export(self, user: User, wl_id: int) -> str:
        """The sources as text that creates the same watchlist again."""
        self.visible(user, wl_id)
        return export_text(self.store.sources(wl_id))

    def update(self, user: User, wl_id: int, changes: dict[str, Any]) -> Watchlist:
        current = self.editable(user, wl_id)
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise WatchlistError(f"cannot change {', '.join(sorted(unknown))}: the sources of a watchlist are fixed "
                                 "(create a new one); change name, description, public or active")
        if "name" in changes:
            changes = {**changes, "name": _check_name(str(changes["name"]))}
        return self.store.update(wl_id, changes) if changes else current

    def delete(self, user: User, wl_id: int) -> Watchlist:
        w = self.editable(user, wl_id)
        self.store.delete(wl_id)
        return w


class WatchlistMatcher:
    """The ``watchlist_hits`` rows of positions, against active watchlists (see the module docstring)."""

    def __init__(self, store: WatchlistReader, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.clock = clock
        self._sources: dict[int, list[Source]] = {}
        self._combined: tuple[frozenset[int], SourceIndex] | None = None
        self._settings: dict[int, Watchlist | None] = {}
        self._read_at = -float("inf")

    def _active(self, wl_ids: Collection[int]) -> list[int]:
        now = self.clock()
        missing = [i for i in wl_ids if i not in self._settings]
        if now - self._read_at > SETTINGS_TTL_S:
            wanted = sorted(set(wl_ids) | {i for i in self._settings})
            found = self.store.many(wanted)
            self._settings = {i: found.get(i) for i in wanted}
            self._read_at = now
        elif missing:
            found = self.store.many(sorted(missing))
            self._settings.update({i: found.get(i) for i in missing})
        return sorted(i for i in wl_ids if (w := self._settings.get(i)) is not None and w.active)

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

    def unreadable(self, owner: int, wl_ids: Collection[int]) -> list[int]:
        """Those of ``wl_ids`` that ``owner`` may not read now: deleted, or made private by another user since a
        filter naming it was saved (settings as fresh as :data:`SETTINGS_TTL_S`)."""
        self._active(wl_ids)
        return sorted(i for i in wl_ids if (w := self._settings.get(i)) is None or not w.readable_by(owner))

    def rows(self, wl_ids: Collection[int], positions: Sequence[tuple[int, float, float]]) -> list[dict[str, Any]]:
        """One row per (object, source) within the source's radius, for the active ones of ``wl_ids``."""
        active = self._active(wl_ids)
        if not active:
            return []
        return [hit.row() for hit in self.index(active).match_all(positions)]
