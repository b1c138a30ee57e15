"""The watchlists table: each watchlist's settings, and its sources in compressed parts.

One DynamoDB table (``WatchlistsTable`` in infra/template.yaml), three kinds of item:

- ``pk="list", sk=<wl_id>``: a watchlist's settings (owner, name, radius, public, active, count), so
  listing every watchlist is one Query of one small partition, never a read of the sources;
- ``pk="sources#<wl_id>", sk=1..k``: its sources as one zlib'd JSON list ``[[ra, dec, name, radius], ...]``
  cut into parts of :data:`PART_BYTES`: 100,000 sources are ~3 MB of JSON, ~1.3 MB compressed, far more
  than DynamoDB's 400 KB item but a few items of it; read with one Query. Chosen over S3 (the alerts
  bucket) because the API and the matchers then need no new bucket permission and one store holds a
  watchlist whole; the sources of a watchlist never change after creation (new sources, new watchlist),
  so a reader may keep them by id for ever (``services/watchlists.py``);
- ``pk="counter", sk=0``: the last id given, so ids are small numbers as Lasair's (``watchlist:12``).

The sources are written before the settings item, so a watchlist is listed only once it is whole;
delete removes the settings first, so a half-deleted one is no longer readable.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from skystream.aws import resource
from skystream.config import settings
from skystream.domain.errors import NotFound, UnknownWatchlist
from skystream.domain.watchlists import Source, Watchlist
from skystream.storage.bulk import batch_get, paged_items

LIST = "list"
COUNTER = "counter"
PART_BYTES = 350_000
"""Compressed bytes per sources item: under DynamoDB's 400 KB item limit with room for the keys."""

C = TypeVar("C")


def zipped_parts(value: Any) -> list[bytes]:
    """``value`` as zlib'd compact JSON in parts of at most :data:`PART_BYTES`."""
    data = zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 6)
    return [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]


def unzipped(parts: list[bytes]) -> Any:
    """The value back from :func:`zipped_parts`' parts, in order."""
    return json.loads(zlib.decompress(b"".join(parts)))


def encode_sources(sources: list[Source]) -> list[bytes]:
    """The sources as zlib'd JSON in parts of at most :data:`PART_BYTES`."""
    return zipped_parts([[s.ra, s.decl, s.name, s.radius] for s in sources])


def decode_sources(parts: list[bytes]) -> list[Source]:
    """The sources back from :func:`encode_sources`' parts, in order."""
    return [Source(i, float(ra), float(dec), str(name), float(radius))
            for i, (ra, dec, name, radius) in enumerate(unzipped(parts), start=1)]


def _watchlist(item: dict[str, Any]) -> Watchlist:
    return Watchlist(wl_id=int(item["sk"]), owner=int(item["owner"]), name=str(item["name"]),
                     description=str(item.get("description", "")), radius=float(item["radius"]),
                     public=bool(item.get("public", False)), active=bool(item.get("active", True)),
                     count=int(item["count"]), created=str(item.get("created", "")),
                     version=int(item.get("version", 1)))


def created_now() -> str:
    """A catalogue's ``created``: UTC, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class CatalogueTable(Generic[C]):
    """What watchlists and watchmaps (``storage/watchmaps.py``) share in the watchlists table: ids from the
    ``counter`` item's ``sk``, settings items under one small partition (``settings_pk``), the body in
    compressed parts under ``<parts_prefix><id>``, written body first and deleted settings first.

    A subclass names those keys, its ``missing`` error (``no <kind> N``) and ``_of`` (an item's settings)."""

    settings_pk: str
    parts_prefix: str
    counter_sk: int
    kind: str
    missing: type[NotFound]

    def __init__(self, table_name: str | None = None):
        self.table_name = table_name or settings().watchlists_table

    @property
    def _table(self) -> Any:
        return resource("dynamodb").Table(self.table_name)

    def _of(self, item: dict[str, Any]) -> C:
        raise NotImplementedError

    def _parts_pk(self, catalogue_id: int) -> str:
        return f"{self.parts_prefix}{int(catalogue_id)}"

    def _next_id(self) -> int:
        out = self._table.update_item(Key={"pk": COUNTER, "sk": self.counter_sk}, UpdateExpression="ADD last_id :one",
                                      ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
        return int(out["Attributes"]["last_id"])

    def _put(self, catalogue_id: int, parts: list[bytes], settings_item: dict[str, Any]) -> None:
        """The body's parts, then the settings item (so a catalogue is listed only once it is whole)."""
        with self._table.batch_writer() as batch:
            for k, part in enumerate(parts, start=1):
                batch.put_item(Item={"pk": self._parts_pk(catalogue_id), "sk": k, "data": part})
        self._table.put_item(Item={"pk": self.settings_pk, "sk": catalogue_id, **settings_item, "version": 1})

    def _parts(self, catalogue_id: int) -> list[bytes]:
        """The body's parts, in order; ``missing`` if there are none."""
        parts = [bytes(item["data"]) for item in paged_items(
            self._table.meta.client, "query", TableName=self.table_name,
            KeyConditionExpression=Key("pk").eq(self._parts_pk(catalogue_id)))]
        if not parts:
            raise self.missing(f"no {self.kind} {catalogue_id}")
        return parts

    def get(self, catalogue_id: int) -> C | None:
        item = self._table.get_item(Key={"pk": self.settings_pk, "sk": int(catalogue_id)},
                                    ConsistentRead=True).get("Item")
        return self._of(item) if item else None

    def many(self, ids: list[int]) -> dict[int, C]:
        """Those of ``ids`` that exist (one BatchGetItem per 100)."""
        items = batch_get(self.table_name, [{"pk": self.settings_pk, "sk": int(i)} for i in ids])
        return {int(item["sk"]): self._of(item) for item in items}

    def all(self) -> list[C]:
        """Every one's settings (one Query of the small settings partition)."""
        items = paged_items(self._table.meta.client, "query", TableName=self.table_name,
                            KeyConditionExpression=Key("pk").eq(self.settings_pk))
        return [self._of(item) for item in items]

    def update(self, catalogue_id: int, changes: dict[str, Any]) -> C:
        """Set some settings (name, description, public, active; a float is stored as text) on an existing one."""
        names = {f"#{k}": k for k in changes}
        values = {f":{k}": (str(v) if isinstance(v, float) else v) for k, v in changes.items()}
        try:
            out = self._table.update_item(
                Key={"pk": self.settings_pk, "sk": int(catalogue_id)},
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes) + " ADD version :one",
                ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":one": 1}, ReturnValues="ALL_NEW")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise self.missing(f"no {self.kind} {catalogue_id}") from exc
            raise
        return self._of(out["Attributes"])

    def delete(self, catalogue_id: int) -> None:
        """Remove the settings (it is then unreadable), then the body's parts."""
        self._table.delete_item(Key={"pk": self.settings_pk, "sk": int(catalogue_id)})
        items = list(paged_items(self._table.meta.client, "query", TableName=self.table_name,
                                 KeyConditionExpression=Key("pk").eq(self._parts_pk(catalogue_id)),
                                 ProjectionExpression="pk, sk"))
        with self._table.batch_writer() as batch:
            for item in items:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})


class WatchlistStore(CatalogueTable[Watchlist]):
    """The watchlists table (see the module docstring)."""

    settings_pk, parts_prefix, counter_sk, kind, missing = LIST, "sources#", 0, "watchlist", UnknownWatchlist

    def _of(self, item: dict[str, Any]) -> Watchlist:
        return _watchlist(item)

    def add(self, *, owner: int, name: str, description: str, radius: float, public: bool, active: bool,
            sources: list[Source]) -> Watchlist:
        """Store a new watchlist with the next id: its sources first, then its settings."""
        watchlist = Watchlist(wl_id=self._next_id(), owner=int(owner), name=name, description=description,
                              radius=radius, public=public, active=active, count=len(sources), created=created_now())
        self._put(watchlist.wl_id, encode_sources(sources), {
            "owner": watchlist.owner, "name": name, "description": description, "radius": str(radius),
            "public": public, "active": active, "count": len(sources), "created": watchlist.created})
        return watchlist

    def sources(self, wl_id: int) -> list[Source]:
        """A watchlist's sources, in the order they were given."""
        return decode_sources(self._parts(wl_id))
