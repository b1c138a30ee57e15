"""The objects table: each object's latest features row and lite lightcurve, newest alert wins.

Alerts of one object can arrive out of order (retries, replays), so every write is a
conditional put: it lands only when the alert's last detection is newer than what is
stored (ties broken by diaSourceId, so replaying the same alert rewrites the same state).
Items: the row's non-NULL columns as native attributes (filters and the API read them),
``night`` = int(lastDiaSourceMjdTai + 0.5) for the ``by-night`` index, the lite lightcurve
as zlib-compressed JSON (``lite_z``: a fraction of the size of a DynamoDB list of maps),
``schema_version`` and ``diaSourceId``, and, for an object with a position, ``sky_cell`` and ``sky_pix``
for the ``by-sky`` index (``skystream.domain.sky``: HEALPix cells; :meth:`ObjectStore.in_sky_ranges`
reads it for cone searches; an item without a position is simply not in that sparse index). Building the item (:func:`object_item`) is pure and
refuses, per record, what DynamoDB cannot hold; only the write itself does I/O. One item
with ``diaObjectId = -1`` records the set of nights that hold objects (``nights``, a number
set), so :meth:`ObjectStore.recent` queries only those, newest first, and never more than
:data:`MAX_NIGHT_QUERIES` of them.

Why a set and a cap, not a range: a range walked night by night costs one query per night
between the newest and the oldest, so a single alert dated 15,000 days ahead cost 15,000
queries on every run-now and every Kafka save, for good. With the set, a future-dated object
costs one query (its own night; it *is* the object with the newest detection); nights that
were emptied (every object moved on to a later night) cost at most one query each, and the
cap bounds the walk whatever the data: at Rubin's rate (~10M alerts a night, one night a day)
the newest night alone fills any ``recent(limit <= 1000)``, and the set grows by one number a
day (~4 bytes; MJDs inside the ingest's sane range keep it well under DynamoDB's 400 KB item).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from skystream.aws import client
from skystream.config import settings
from skystream.domain.bounds import is_integer, is_number
from skystream.domain.objects import StoredObject
from skystream.domain.sky import PixelRange, SkyPoint, SkyScan, is_position, sky_attributes
from skystream.features.columns import OBJECT_COLUMN_NAMES
from skystream.storage.bulk import batch_get
from skystream.storage.dynamo_values import UnstorableValue, from_dynamo, to_dynamo

META_ID = -1  # the item holding the set of nights; never an object
MAX_ITEM_BYTES = 400_000  # DynamoDB's item limit is 400 KB (409,600 bytes): keep a margin for `updated`
NIGHT_INDEX = "by-night"
SKY_INDEX = "by-sky"
MAX_NIGHT_QUERIES = 64
"""Most by-night queries one :meth:`ObjectStore.recent` call makes (each a few ms on DynamoDB)."""
MAX_NIGHTS = 40_000
"""Most nights the meta item's set holds (110 years of nights). A set number takes at most ~8 bytes
for any night an alert can carry, so the item stays far under DynamoDB's 400 KB, and a set at this
size is refused by a condition (a code), not by DynamoDB's size error (only its message says "size")."""
log = Logger(child=True)
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
_NEWER = (
    "attribute_not_exists(diaObjectId) OR lastDiaSourceMjdTai < :t "
    "OR (lastDiaSourceMjdTai = :t AND (attribute_not_exists(diaSourceId) OR diaSourceId <= :s))"
)


def night_of(mjd: float) -> int:
    """The observing night of a time: MJD rounded at noon UTC (Rubin observes around UTC midnight-ish)."""
    return int(mjd + 0.5)


def _pack_lite(lite: dict[str, Any]) -> bytes:
    return zlib.compress(orjson.dumps(lite), 6)


def _unpack_lite(blob: Any) -> dict[str, Any]:
    if blob is None:
        return {"diaSourcesList": [], "diaForcedSourcesList": []}
    raw = blob.value if hasattr(blob, "value") else blob
    return orjson.loads(zlib.decompress(raw))


def _to_stored(item: dict[str, Any]) -> StoredObject:
    values = {k: from_dynamo(v) for k, v in item.items() if k != "lite_z"}
    row = {name: values.get(name) for name in OBJECT_COLUMN_NAMES}
    return StoredObject(
        row=row,
        lite=_unpack_lite(item.get("lite_z")),
        schema_version=str(values.get("schema_version") or ""),
        dia_source_id=values.get("diaSourceId"),
        updated=str(values.get("updated") or ""),
    )


@dataclass(frozen=True)
class ObjectItem:
    """One object's item in DynamoDB's wire form, checked to be storable (built by :func:`object_item`)."""

    dia_object_id: int
    night: int
    item: dict[str, Any]


def object_item(row: dict[str, Any], lite: dict[str, Any], *, schema_version: str = "",
                dia_source_id: int | None = None) -> ObjectItem:
    """The item for one object (see :meth:`ObjectStore.item`); raises :class:`UnstorableValue`."""
    last, object_id = row.get("lastDiaSourceMjdTai"), row.get("diaObjectId")
    if not is_integer(object_id) or not is_number(last) or not math.isfinite(last):
        raise UnstorableValue("an objects row needs an integer diaObjectId and a finite lastDiaSourceMjdTai "
                              "to be stored")
    try:
        values: dict[str, Any] = {k: v for k, v in to_dynamo(row).items() if v is not None}
        values["diaSourceId"] = to_dynamo(dia_source_id) if dia_source_id is not None else 0
    except UnstorableValue as exc:
        exc.path.insert(0, "objects" if exc.path else "diaSourceId")
        raise
    try:
        values |= {"night": night_of(last), "lite_z": _pack_lite(lite), "schema_version": schema_version}
        if is_position(row.get("ra"), row.get("decl")):
            values |= sky_attributes(row["ra"], row["decl"])
        item = {k: _SERIALIZER.serialize(v) for k, v in values.items()}
    except (TypeError, ValueError, ArithmeticError) as exc:  # anything to_dynamo let through that boto3 refuses
        raise UnstorableValue(f"the objects item cannot be serialised: {type(exc).__name__}: {exc}") from None
    size = _item_bytes(item)
    if size > MAX_ITEM_BYTES:
        raise UnstorableValue(f"the objects item would be {size} bytes; DynamoDB holds at most {MAX_ITEM_BYTES} "
                              f"(its lite lightcurve is {len(values['lite_z'])} bytes compressed)")
    return ObjectItem(dia_object_id=int(object_id), night=values["night"], item=item)


def _item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item: names plus values, numbers counted as their text (an upper bound)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        (kind, data), = value.items()
        size += len(data) if kind == "B" else len(str(data).encode()) if kind in ("S", "N") else len(repr(data))
    return size


class ObjectStore:
    """Repository over the objects table (name from settings unless given)."""

    def __init__(self, table_name: str | None = None):
        self.table_name = table_name or settings().objects_table
        self._client = client("dynamodb")
        self._noted_nights: set[int] = set()  # nights this store has already added to the meta item

    # writes -------------------------------------------------------------------------
    def item(self, row: dict[str, Any], lite: dict[str, Any], *, schema_version: str = "",
             dia_source_id: int | None = None) -> ObjectItem:
        """The row and lite lightcurve as the item to write, converted and checked, with no I/O.

        Raises :class:`UnstorableValue` (a ``ValueError``) when this one record cannot be
        stored: a value beyond DynamoDB's numbers, a missing key or time, an item over
        400 KB. Ingest calls it per record before the writes, so such a record goes to the
        dead-letter topic alone and the writes that follow can fail only for reasons
        outside the record (which then fail the batch for a retry).
        """
        return object_item(row, lite, schema_version=schema_version, dia_source_id=dia_source_id)

    def put_if_newer(self, item: ObjectItem) -> bool:
        """Write ``item`` unless a newer alert of its object is already stored.

        Returns True when written (also when the same alert is written again), False when
        the stored state is newer and was kept.
        """
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={**item.item, "updated": {"S": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")}},
                ConditionExpression=_NEWER,
                ExpressionAttributeValues={":t": item.item["lastDiaSourceMjdTai"], ":s": item.item["diaSourceId"]},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        self._note_night(item.night)
        return True

    def upsert_if_newer(self, row: dict[str, Any], lite: dict[str, Any], *, schema_version: str = "",
                        dia_source_id: int | None = None) -> bool:
        """:meth:`item` then :meth:`put_if_newer`, for callers that store one object at a time."""
        return self.put_if_newer(self.item(row, lite, schema_version=schema_version, dia_source_id=dia_source_id))

    def _note_night(self, night: int) -> None:
        """Add ``night`` to the meta item's set of nights that hold objects (once per store and night).

        ``ADD`` to a number set is idempotent and atomic, so racing writers need no read and no
        condition on what is already there. A set already holding :data:`MAX_NIGHTS` nights (only
        with nights far outside any survey) is not grown: logged, not raised; the object is stored,
        only ``recent()`` misses its night.
        """
        if night in self._noted_nights:
            return
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"diaObjectId": {"N": str(META_ID)}},
                UpdateExpression="ADD nights :n",
                ConditionExpression="attribute_not_exists(nights) OR contains(nights, :night) OR size(nights) < :max",
                ExpressionAttributeValues={":n": {"NS": [str(night)]}, ":night": {"N": str(night)},
                                           ":max": {"N": str(MAX_NIGHTS)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            log.warning("night not recorded for recent(): the set of nights is full",
                        extra={"night": night, "max_nights": MAX_NIGHTS})
        self._noted_nights.add(night)

    def _nights(self) -> list[int]:
        """The nights that hold (or once held) objects, newest first.

        A meta item written before the set existed has only ``minNight``/``maxNight``: its newest
        :data:`MAX_NIGHT_QUERIES` nights stand in for the set, so older tables stay readable.
        """
        item = self._client.get_item(
            TableName=self.table_name, Key={"diaObjectId": {"N": str(META_ID)}}, ConsistentRead=True,
            ProjectionExpression="nights, minNight, maxNight",
        ).get("Item") or {}
        nights = {int(n) for n in item.get("nights", {}).get("NS", [])}
        if "maxNight" in item:
            top = int(item["maxNight"]["N"])
            bottom = int(item.get("minNight", item["maxNight"])["N"])
            nights.update(range(max(bottom, top - MAX_NIGHT_QUERIES + 1), top + 1))
        return sorted(nights, reverse=True)

    # reads --------------------------------------------------------------------------
    def get(self, dia_object_id: int) -> StoredObject | None:
        item = self._client.get_item(
            TableName=self.table_name, Key={"diaObjectId": {"N": str(int(dia_object_id))}}, ConsistentRead=True
        ).get("Item")
        if not item or int(dia_object_id) == META_ID:
            return None
        return _to_stored({k: _DESERIALIZER.deserialize(v) for k, v in item.items()})

    def get_many(self, ids: Iterable[int]) -> dict[int, StoredObject]:
        keys = [{"diaObjectId": int(i)} for i in dict.fromkeys(ids) if int(i) != META_ID]
        found = {}
        for item in batch_get(self.table_name, keys):
            stored = _to_stored(item)
            found[stored.dia_object_id] = stored
        return found

    def recent(self, limit: int) -> list[StoredObject]:
        """Up to ``limit`` objects, most recent ``lastDiaSourceMjdTai`` first.

        Walks the by-night index over the nights that hold objects, newest first, and stops
        after :data:`MAX_NIGHT_QUERIES` queries: one GetItem, at most that many queries and one
        BatchGetItem per call, whatever nights the stored data claims (see the module docstring).
        """
        if limit <= 0:
            return []
        ids: list[int] = []
        for night in self._nights()[:MAX_NIGHT_QUERIES]:
            response = self._client.query(
                TableName=self.table_name,
                IndexName=NIGHT_INDEX,
                KeyConditionExpression="night = :n",
                ExpressionAttributeValues={":n": {"N": str(night)}},
                ScanIndexForward=False,
                Limit=limit - len(ids),
            )
            ids.extend(int(i["diaObjectId"]["N"]) for i in response.get("Items", []))
            if len(ids) >= limit:
                break
        found = self.get_many(ids)
        stored = [found[i] for i in dict.fromkeys(ids) if i in found]
        stored.sort(key=lambda s: s.row.get("lastDiaSourceMjdTai") or 0.0, reverse=True)
        return stored[:limit]

    def in_sky_ranges(self, ranges: Iterable[PixelRange]) -> SkyScan:
        """Every indexed object in the ranges of the ``by-sky`` index, with its position.

        One Query per range (and per 1 MB page), reading only the index's projection (id, ra,
        decl); the caller keeps those within its cone. The index, like every DynamoDB global
        secondary index, is eventually consistent: an object written a moment ago may be missing.
        """
        points: list[SkyPoint] = []
        requests = 0
        for r in ranges:
            query: dict[str, Any] = {
                "TableName": self.table_name, "IndexName": SKY_INDEX,
                "KeyConditionExpression": "sky_cell = :cell AND sky_pix BETWEEN :first AND :last",
                "ExpressionAttributeValues": {":cell": {"N": str(r.cell)}, ":first": {"N": str(r.first)},
                                              ":last": {"N": str(r.last)}},
                "ProjectionExpression": "diaObjectId, ra, decl",
            }
            while True:
                page = self._client.query(**query)
                requests += 1
                points.extend(SkyPoint(int(i["diaObjectId"]["N"]), float(i["ra"]["N"]), float(i["decl"]["N"]))
                              for i in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return SkyScan(points=points, requests=requests)
