"""Watchmaps in the watchlists table (``WatchlistsTable``): the same table and layout, other key prefixes.

- ``pk="map", sk=<ar_id>``: a watchmap's settings (owner, name, public, active, ranges, depth, sky
  fraction), so listing is one Query of one small partition;
- ``pk="moc#<ar_id>", sk=1..k``: its MOC (``domain/watchmaps.encode``) as zlib'd JSON in parts of
  :data:`~skystream.storage.watchlists.PART_BYTES` (100,000 ranges are ~4 MB of JSON, a few parts);
- ``pk="counter", sk=1``: the last watchmap id (watchlists count at ``sk=0``), so ids are small as Lasair's.

Reusing the table keeps one set of permissions, one backup (PITR) and one place for a user's catalogues;
a MOC never changes after creation, so a reader may keep it by id. Written MOC first, settings last;
deleted settings first (as watchlists, ``storage/watchlists.py``).
"""

from __future__ import annotations

from typing import Any

from skystream.domain.errors import UnknownWatchmap
from skystream.domain.watchmaps import Moc, Watchmap, decode, encode
from skystream.storage.watchlists import CatalogueTable, created_now, unzipped, zipped_parts

MAP = "map"
COUNTER_SK = 1


def _watchmap(item: dict[str, Any]) -> Watchmap:
    return Watchmap(ar_id=int(item["sk"]), owner=int(item["owner"]), name=str(item["name"]),
                    description=str(item.get("description", "")), public=bool(item.get("public", False)),
                    active=bool(item.get("active", True)), ranges=int(item["ranges"]), depth=int(item["depth"]),
                    sky_fraction=float(item["sky_fraction"]), created=str(item.get("created", "")),
                    version=int(item.get("version", 1)))


class WatchmapStore(CatalogueTable[Watchmap]):
    """Watchmaps in the watchlists table (see the module docstring); get, many, all, update and delete as
    watchlists' (``CatalogueTable``)."""

    settings_pk, parts_prefix, counter_sk, kind, missing = MAP, "moc#", COUNTER_SK, "watchmap", UnknownWatchmap

    def _of(self, item: dict[str, Any]) -> Watchmap:
        return _watchmap(item)

    def add(self, *, owner: int, name: str, description: str, public: bool, active: bool, moc: Moc) -> Watchmap:
        """Store a new watchmap with the next id: its MOC first, then its settings."""
        w = Watchmap(ar_id=self._next_id(), owner=int(owner), name=name, description=description, public=public,
                     active=active, ranges=moc.ranges, depth=moc.depth, sky_fraction=moc.sky_fraction(),
                     created=created_now())
        self._put(w.ar_id, zipped_parts(encode(moc)), {
            "owner": w.owner, "name": name, "description": description, "public": public, "active": active,
            "ranges": w.ranges, "depth": w.depth, "sky_fraction": str(w.sky_fraction), "created": w.created})
        return w

    def moc(self, ar_id: int) -> Moc:
        """A watchmap's MOC."""
        return decode(unzipped(self._parts(ar_id)))
