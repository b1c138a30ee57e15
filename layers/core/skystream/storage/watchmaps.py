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

import json
import zlib
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from skystream.aws import resource
from skystream.config import settings
from skystream.domain.errors import UnknownWatchmap
from skystream.domain.watchmaps import Moc, Watchmap, decode, encode
from skystream.storage.bulk import batch_get, paged_items
from skystream.storage.watchlists import COUNTER, PART_BYTES

MAP = "map"
COUNTER_SK = 1


def _moc_pk(ar_id: int) -> str:
    return f"moc#{int(ar_id)}"


def _watchmap(item: dict[str, Any]) -> Watchmap:
    return Watchmap(ar_id=int(item["sk"]), owner=int(item["owner"]), name=str(item["name"]),
                    description=str(item.get("description", "")), public=bool(item.get("public", False)),
                    active=bool(item.get("active", True)), ranges=int(item["ranges"]), depth=int(item["depth"]),
                    sky_fraction=float(item["sky_fraction"]), created=str(item.get("created", "")),
                    version=int(item.get("version", 1)))


class WatchmapStore:
    """Watchmaps in the watchlists table (see the module docstring)."""

    def __init__(self, table_name: str | None = None):
        self.table_name = table_name or settings().watchlists_table

    @property
    def _table(self) -> Any:
        return resource("dynamodb").Table(self.table_name)

    def add(self, *, owner: int, name: str, description: str, public: bool, active: bool, moc: Moc) -> Watchmap:
        """Store a new watchmap with the next id: its MOC first, then its settings."""
        out = self._table.update_item(Key={"pk": COUNTER, "sk": COUNTER_SK}, UpdateExpression="ADD last_id :one",
                                      ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
        ar_id = int(out["Attributes"]["last_id"])
        data = zlib.compress(json.dumps(encode(moc), separators=(",", ":")).encode(), 6)
        with self._table.batch_writer() as batch:
            for k, i in enumerate(range(0, len(data), PART_BYTES), start=1):
                batch.put_item(Item={"pk": _moc_pk(ar_id), "sk": k, "data": data[i : i + PART_BYTES]})
        w = Watchmap(ar_id=ar_id, owner=int(owner), name=name, description=description, public=public, active=active,
                     ranges=moc.ranges, depth=moc.depth, sky_fraction=moc.sky_fraction(),
                     created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
        self._table.put_item(Item={"pk": MAP, "sk": ar_id, "owner": w.owner, "name": name, "description": description,
                                   "public": public, "active": active, "ranges": w.ranges, "depth": w.depth,
                                   "sky_fraction": str(w.sky_fraction), "created": w.created, "version": 1})
        return w

    def get(self, ar_id: int) -> Watchmap | None:
        item = self._table.get_item(Key={"pk": MAP, "sk": int(ar_id)}, ConsistentRead=True).get("Item")
        return _watchmap(item) if item else None

    def many(self, ids: list[int]) -> dict[int, Watchmap]:
        """The watchmaps of ``ids`` that exist (one BatchGetItem per 100)."""
        found = (_watchmap(item) for item in batch_get(self.table_name, [{"pk": MAP, "sk": int(i)} for i in ids]))
        return {w.ar_id: w for w in found}

    def all(self) -> list[Watchmap]:
        """Every watchmap's settings (one Query of the small settings partition)."""
        items = paged_items(self._table.meta.client, "query", TableName=self.table_name,
                            KeyConditionExpression=Key("pk").eq(MAP))
        return [_watchmap(item) for item in items]

    def moc(self, ar_id: int) -> Moc:
        """A watchmap's MOC."""
        parts = [bytes(item["data"]) for item in paged_items(
            self._table.meta.client, "query", TableName=self.table_name,
            KeyConditionExpression=Key("pk").eq(_moc_pk(ar_id)))]
        if not parts:
            raise UnknownWatchmap(f"no watchmap {ar_id}")
        return decode(json.loads(zlib.decompress(b"".join(parts))))

    def update(self, ar_id: int, changes: dict[str, Any]) -> Watchmap:
        """Set some of name, description, public, active on an existing watchmap."""
        names = {f"#{k}": k for k in changes}
        values = {f":{k}": v for k, v in changes.items()}
        try:
            out = self._table.update_item(
                Key={"pk": MAP, "sk": int(ar_id)},
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes) + " ADD version :one",
                ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":one": 1}, ReturnValues="ALL_NEW")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise UnknownWatchmap(f"no watchmap {ar_id}") from exc
            raise
        return _watchmap(out["Attributes"])

    def delete(self, ar_id: int) -> None:
        """Remove the settings (it is then unreadable), then the MOC."""
        self._table.delete_item(Key={"pk": MAP, "sk": int(ar_id)})
        items = list(paged_items(self._table.meta.client, "query", TableName=self.table_name,
                                 KeyConditionExpression=Key("pk").eq(_moc_pk(ar_id)), ProjectionExpression="pk, sk"))
        with self._table.batch_writer() as batch:
            for item in items:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
