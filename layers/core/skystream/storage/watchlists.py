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
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from skystream.aws import resource
from skystream.config import settings
from skystream.domain.errors import UnknownWatchlist
from skystream.domain.watchlists import Source, Watchlist
from skystream.storage.bulk import batch_get, paged_items

LIST = "list"
COUNTER = "counter"
PART_BYTES = 350_000
"""Compressed bytes per sources item: under DynamoDB's 400 KB item limit with room for the keys."""


def _sources_pk(wl_id: int) -> str:
    return f"sources#{int(wl_id)}"


def encode_sources(sources: list[Source]) -> list[bytes]:
    """The sources as zlib'd JSON in parts of at most :data:`PART_BYTES`."""
    data = zlib.compress(json.dumps([[s.ra, s.decl, s.name, s.radius] for s in sources],
                                    separators=(",", ":")).encode(), 6)
    return [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]


def decode_sources(parts: list[bytes]) -> list[Source]:
    """The sources back from :func:`encode_sources`' parts, in order."""
    rows = json.loads(zlib.decompress(b"".join(parts)))
    return [Source(i, float(ra), float(dec), str(name), float(radius))
            for i, (ra, dec, name, radius) in enumerate(rows, start=1)]


def _watchlist(item: dict[str, Any]) -> Watchlist:
    return Watchlist(wl_id=int(item["sk"]), owner=int(item["owner"]), name=str(item["name"]),
                     description=str(item.get("description", "")), radius=float(item["radius"]),
                     public=bool(item.get("public", False)), active=bool(item.get("active", True)),
                     count=int(item["count"]), created=str(item.get("created", "")),
                     version=int(item.get("version", 1)))


class WatchlistStore:
    """The watchlists table (see the module docstring)."""

    def __init__(self, table_name: str | None = None):
        self.table_name = table_name or settings().watchlists_table

    @property
    def _table(self) -> Any:
        return resource("dynamodb").Table(self.table_name)

    def _next_id(self) -> int:
        out = self._table.update_item(Key={"pk": COUNTER, "sk": 0}, UpdateExpression="ADD last_id :one",
                                      ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
        return int(out["Attributes"]["last_id"])

    def add(self, *, owner: int, name: str, description: str, radius: float, public: bool, active: bool,
            sources: list[Source]) -> Watchlist:
        """Store a new watchlist with the next id: its sources first, then its settings."""
        wl_id = self._next_id()
        with self._table.batch_writer() as batch:
            for k, part in enumerate(encode_sources(sources), start=1):
                batch.put_item(Item={"pk": _sources_pk(wl_id), "sk": k, "data": part})
        watchlist = Watchlist(wl_id=wl_id, owner=int(owner), name=name, description=description, radius=radius,
                              public=public, active=active, count=len(sources),
                              created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
        self._table.put_item(Item={"pk": LIST, "sk": wl_id, "owner": watchlist.owner, "name": name,
                                   "description": description, "radius": str(radius), "public": public,
                                   "active": active, "count": len(sources), "created": watchlist.created,
                                   "version": 1})
        return watchlist

    def get(self, wl_id: int) -> Watchlist | None:
        item = self._table.get_item(Key={"pk": LIST, "sk": int(wl_id)}, ConsistentRead=True).get("Item")
        return _watchlist(item) if item else None

    def many(self, ids: list[int]) -> dict[int, Watchlist]:
        """The watchlists of ``ids`` that exist (one BatchGetItem per 100)."""
        found = (_watchlist(item) for item in batch_get(self.table_name, [{"pk": LIST, "sk": int(i)} for i in ids]))
        return {w.wl_id: w for w in found}

    def all(self) -> list[Watchlist]:
        """Every watchlist's settings, by id (one Query of the small settings partition)."""
        items = paged_items(self._table.meta.client, "query", TableName=self.table_name,
                            KeyConditionExpression=Key("pk").eq(LIST))
        return [_watchlist(item) for item in items]

    def sources(self, wl_id: int) -> list[Source]:
        """A watchlist's sources, in the order they were given."""
        parts = [bytes(item["data"]) for item in paged_items(
            self._table.meta.client, "query", TableName=self.table_name,
            KeyConditionExpression=Key("pk").eq(_sources_pk(wl_id)))]
        if not parts:
            raise UnknownWatchlist(f"no watchlist {wl_id}")
        return decode_sources(parts)

    def update(self, wl_id: int, changes: dict[str, Any]) -> Watchlist:
        """Set some of name, description, public, active, radius on an existing watchlist."""
        names = {f"#{k}": k for k in changes}
        values = {f":{k}": (str(v) if k == "radius" else v) for k, v in changes.items()}
        try:
            out = self._table.update_item(
                Key={"pk": LIST, "sk": int(wl_id)},
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes) + " ADD version :one",
                ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":one": 1}, ReturnValues="ALL_NEW")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise UnknownWatchlist(f"no watchlist {wl_id}") from exc
            raise
        return _watchlist(out["Attributes"])

    def delete(self, wl_id: int) -> None:
        """Remove the settings (it is then unreadable), then the sources."""
        self._table.delete_item(Key={"pk": LIST, "sk": int(wl_id)})
        items = list(paged_items(self._table.meta.client, "query", TableName=self.table_name,
                                 KeyConditionExpression=Key("pk").eq(_sources_pk(wl_id)), ProjectionExpression="pk, sk"))
        with self._table.batch_writer() as batch:
            for item in items:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
