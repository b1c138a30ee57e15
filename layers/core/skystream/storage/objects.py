"""The objects table: each object's latest features row and lite lightcurve, newest alert wins.

Alerts of one object can arrive out of order (retries, replays), so every write is a
conditional put: it lands only when the alert's last detection is newer than what is
stored (ties broken by diaSourceId, so replaying the same alert rewrites the same state).
Items: the row's non-NULL columns as native attributes (filters and the API read them),
``night`` = int(lastDiaSourceMjdTai + 0.5) for the ``by-night`` index, the lite lightcurve
as zlib-compressed JSON (``lite_z``: a fraction of the size of a DynamoDB list of maps),
``schema_version`` and ``diaSourceId``. Building the item (:func:`object_item`) is pure and
refuses, per record, what DynamoDB cannot hold; only the write itself does I/O. One item
with ``diaObjectId = -1`` records the newest and oldest nights stored, so
:meth:`ObjectStore.recent` knows where to start.
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from skystream.bounds import is_integer, is_number
from skystream.config import settings
from skystream.features.columns import OBJECT_COLUMN_NAMES
from skystream.storage.aws import client
from skystream.storage.bulk import batch_get
from skystream.storage.dynamo_values import UnstorableValue, from_dynamo, to_dynamo

META_ID = -1  # the item holding maxNight/minNight; never an object
MAX_ITEM_BYTES = 400_000  # DynamoDB's item limit is 400 KB (409,600 bytes): keep a margin for `updated`
NIGHT_INDEX = "by-night"
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
_NEWER = (
    "attribute_not_exists(diaObjectId) OR lastDiaSourceMjdTai < :t "
    "OR (lastDiaSourceMjdTai = :t AND (attribute_not_exists(diaSourceId) OR diaSourceId <= :s))"
)


def night_of(mjd: float) -> int:
    """The observing night of a time: MJD rounded at noon UTC (Rubin observes around UTC midnight-ish)."""
    return int(mjd + 0.5)


@dataclass
class StoredObject:
    row: dict[str, Any]  # every OBJECT_COLUMNS key, None where NULL
    lite: dict[str, Any]
    schema_version: str = ""
    dia_source_id: int | None = None
    updated: str = ""

    @property
    def dia_object_id(self) -> int:
        return int(self.row["diaObjectId"])


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
        self._known_nights: tuple[int, int] | None = None  # (min, max) already recorded in the meta item

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
        """Widen the meta item's night range to cover ``night``: read it once, write only what moves.

        ``_known_nights`` is a range already recorded (concurrent writers only widen it), so
        a night inside it costs nothing; the conditional updates keep a racing writer safe.
        """
        known = self._known_nights or self._night_range()
        if known is not None and known[0] <= night <= known[1]:
            self._known_nights = known
            return
        widens = (known is None or night > known[1], known is None or night < known[0])
        for (attribute, test), needed in zip((("maxNight", "<"), ("minNight", ">")), widens, strict=True):
            if not needed:
                continue
            with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
                self._client.update_item(
                    TableName=self.table_name,
                    Key={"diaObjectId": {"N": str(META_ID)}},
                    UpdateExpression=f"SET {attribute} = :n",
                    ConditionExpression=f"attribute_not_exists({attribute}) OR {attribute} {test} :n",
                    ExpressionAttributeValues={":n": {"N": str(night)}},
                )
        lo, hi = known or (night, night)
        self._known_nights = (min(lo, night), max(hi, night))

    def _night_range(self) -> tuple[int, int] | None:
        item = self._client.get_item(
            TableName=self.table_name, Key={"diaObjectId": {"N": str(META_ID)}}, ConsistentRead=True
        ).get("Item")
        if not item or "maxNight" not in item or "minNight" not in item:
            return None  # nothing stored yet, or a first writer is between its two updates
        return int(item["minNight"]["N"]), int(item["maxNight"]["N"])

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
        """Up to ``limit`` objects, most recent ``lastDiaSourceMjdTai`` first (walks the by-night index)."""
        if limit <= 0:
            return []
        nights = self._night_range()
        if nights is None:
            return []
        lo, hi = nights
        ids: list[int] = []
        for night in range(hi, lo - 1, -1):
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
