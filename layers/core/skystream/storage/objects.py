"""The objects table: each object's latest features row and lite lightcurve, newest alert wins.

Alerts of one object can arrive out of order (retries, replays), so a write lands only when
the alert's last detection is newer than what is stored (ties broken by diaSourceId, so
replaying the same alert rewrites the same state). Ingest writes a batch at a time
(:meth:`ObjectStore.put_newest`): one strongly consistent BatchGetItem per 100 objects reads
what is stored, and BatchWriteItem (25 items a call) writes only the items that are newer,
each with the pointer to its full alert in the archive. BatchWriteItem takes no conditions,
so the read stands in for one; that is safe because one object's alerts are never written by
two writers at once: records are keyed by diaObjectId, so one object's alerts are on one
partition, in order, and the event source (Lambda's Kafka trigger, our local runner) hands a
partition's batches to one invocation at a time, the next only after the previous returned. What the
read guards against is the same alert or an older one coming again later (a replay from an
older offset, a retried batch): it finds the newer state and writes nothing, or the same
state. Single writes (:meth:`ObjectStore.put_if_newer`) keep the conditional put.

Items are compact, because DynamoDB bills a write by the kilobyte: the key, the attributes
the writes and the ``by-night`` index use as native attributes (``lastDiaSourceMjdTai``,
``diaSourceId``, ``night`` = int(lastDiaSourceMjdTai + 0.5)), ``schema_version``, the row's
non-NULL columns as one zlib'd JSON blob (``row_z``, ~1 KB where ~80 native attributes took
~3 KB), and the full alert's pointer (``alert_key``, ``alert_offset``, ``alert_length``); for an object with a position,
``sky_cell`` and ``sky_pix`` (the ``by-sky`` index's keys: ``skystream.domain.sky``, HEALPix cells
quantised to ~3.2", so a slightly moved position keeps them and the keys-only index is not
rewritten) and ``ra``, ``decl`` natively (:meth:`ObjectStore.in_sky_ranges` reads them by
BatchGetItem for the ids the index gives; an item without a position is not in that sparse index). No
lite lightcurve: it is the archived full alert's (``alerts.lightcurve.lite_from_full``), so
:meth:`ObjectStore.get` reads it from the archive, and the bulk reads (:meth:`get_many`,
:meth:`recent`) leave it to whoever needs it (``outputs.kafka`` reads it by pointer, batched,
for ``kafka_lite`` records only). Measured (``benchmarks/cost.py``): 1.4 KB and 2 write units
an item at 10 detections, against 5.1 KB and 5-6 with native columns and the lite lightcurve.
Items of the earlier layout (native columns, ``lite_z``, no pointer; the alert at
:func:`~skystream.storage.archive.legacy_key`) are still read. Building the item
(:func:`object_item`) is pure and refuses, per record, what DynamoDB cannot hold (each value
is checked as if stored natively, as before); only the write itself does I/O. One item with ``diaObjectId = -1`` records the set of nights that hold
objects (``nights``, a number set), so :meth:`ObjectStore.recent` queries only those, newest
first, and never more than :data:`MAX_NIGHT_QUERIES` of them.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from skystream.alerts.lightcurve import lite_from_full
from skystream.aws import client
from skystream.config import settings
from skystream.domain.bounds import is_integer, is_number
from skystream.domain.objects import AlertPointer, StoredObject, night_of
from skystream.domain.sky import PixelRange, SkyPoint, SkyScan, is_position, sky_attributes
from skystream.features.columns import OBJECT_COLUMN_NAMES
from skystream.storage.archive import AlertArchive, legacy_pointer
from skystream.storage.bulk import BATCH_GET_LIMIT, batch_get, batch_put
from skystream.storage.dynamo_values import UnstorableValue, from_dynamo, to_dynamo

META_ID = -1  # the item holding the set of nights; never an object
MAX_ITEM_BYTES = 400_000  # DynamoDB's item limit is 400 KB (409,600 bytes): keep a margin for `updated`
NIGHT_INDEX = "by-night"
SKY_INDEX = "by-sky"
MAX_NIGHT_QUERIES = 64
"""Most by-night queries one :meth:`ObjectStore.recent` call makes (each a few ms on DynamoDB)."""
WRITE_PARALLEL = 4
"""BatchWriteItem calls of one :meth:`ObjectStore.put_newest` in flight at once (500 items: 20 calls)."""
_VERSION_ATTRIBUTES = ("diaObjectId", "lastDiaSourceMjdTai", "diaSourceId")
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


def _unpack_lite(blob: Any) -> dict[str, Any]:
    if blob is None:
        return {"diaSourcesList": [], "diaForcedSourcesList": []}
    raw = blob.value if hasattr(blob, "value") else blob
    return orjson.loads(zlib.decompress(raw))


def _pack_row(row: dict[str, Any]) -> bytes:
    return zlib.compress(orjson.dumps({k: v for k, v in row.items() if v is not None}), 6)


def _unpack_row(blob: Any) -> dict[str, Any]:
    raw = blob.value if hasattr(blob, "value") else blob
    return orjson.loads(zlib.decompress(raw))


def _to_stored(item: dict[str, Any]) -> StoredObject:
    values = {k: from_dynamo(v) for k, v in item.items() if k not in ("lite_z", "row_z")}
    packed = _unpack_row(item["row_z"]) if "row_z" in item else values
    row = {name: packed.get(name) for name in OBJECT_COLUMN_NAMES}
    if values.get("alert_key"):
        pointer = AlertPointer(str(values["alert_key"]), int(values.get("alert_offset") or 0),
                               int(values.get("alert_length") or 0))
    else:  # stored before batching: one archive object per object
        pointer = legacy_pointer(int(values["diaObjectId"]))
    return StoredObject(
        row=row,
        lite=_unpack_lite(item["lite_z"]) if "lite_z" in item else None,
        schema_version=str(values.get("schema_version") or ""),
        dia_source_id=values.get("diaSourceId"),
        updated=str(values.get("updated") or ""),
        alert_pointer=pointer,
    )


def _pointer_attributes(pointer: AlertPointer | None) -> dict[str, Any]:
    if pointer is None:
        return {}
    return {"alert_key": {"S": pointer.key}, "alert_offset": {"N": str(pointer.offset)},
            "alert_length": {"N": str(pointer.length)}}


def _now() -> dict[str, str]:
    return {"S": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")}


@dataclass(frozen=True)
class ObjectItem:
    """One object's item in DynamoDB's wire form, checked to be storable (built by :func:`object_item`)."""

    dia_object_id: int
    night: int
    item: dict[str, Any]
    last: Decimal = Decimal(0)  # lastDiaSourceMjdTai, exactly as stored
    source_id: int = 0  # diaSourceId (0: none)

    @property
    def version(self) -> tuple[Decimal, int]:
        """What "newer" compares: the last detection's time, then diaSourceId."""
        return self.last, self.source_id


def object_item(row: dict[str, Any], lite: dict[str, Any], *, schema_version: str = "",
                dia_source_id: int | None = None) -> ObjectItem:
    """The item for one object (see :meth:`ObjectStore.item`); raises :class:`UnstorableValue`."""
    last, object_id = row.get("lastDiaSourceMjdTai"), row.get("diaObjectId")
    if not is_integer(object_id) or not is_number(last) or not math.isfinite(last):
        raise UnstorableValue("an objects row needs an integer diaObjectId and a finite lastDiaSourceMjdTai "
                              "to be stored")
    try:
        if not _plainly_storable(row):
            to_dynamo(row)  # each value as DynamoDB would hold it: what it cannot hold is refused here, named
        values: dict[str, Any] = {"diaObjectId": to_dynamo(object_id), "lastDiaSourceMjdTai": to_dynamo(last)}
        values["diaSourceId"] = to_dynamo(dia_source_id) if dia_source_id is not None else 0
    except UnstorableValue as exc:
        exc.path.insert(0, "objects" if exc.path else "diaSourceId")
        raise
    try:
        values |= {"night": night_of(last), "row_z": _pack_row(row), "schema_version": schema_version}
        if is_position(row.get("ra"), row.get("decl")):  # the by-sky index's keys and its projection
            values |= sky_attributes(row["ra"], row["decl"]) | {"ra": to_dynamo(row["ra"]),
                                                                "decl": to_dynamo(row["decl"])}
        item = {k: _SERIALIZER.serialize(v) for k, v in values.items()}
    except (TypeError, ValueError, ArithmeticError) as exc:  # anything to_dynamo let through that boto3 refuses
        raise UnstorableValue(f"the objects item cannot be serialised: {type(exc).__name__}: {exc}") from None
    size = _item_bytes(item)
    if size > MAX_ITEM_BYTES:
        raise UnstorableValue(f"the objects item would be {size} bytes; DynamoDB holds at most {MAX_ITEM_BYTES}")
    return ObjectItem(dia_object_id=int(object_id), night=values["night"], item=item,
                      last=Decimal(item["lastDiaSourceMjdTai"]["N"]), source_id=int(item["diaSourceId"]["N"]))


_SMALLEST, _LARGEST, _INT_LIMIT = 1e-129, 9.9e125, 10**38


def _plainly_storable(row: dict[str, Any]) -> bool:
    """True when every value is plainly one DynamoDB holds (None, text, a bool, an int of under 38 digits,
    a float well inside its range): the usual row, checked without a Decimal per value. False sends the
    row through :func:`to_dynamo`, which names what it cannot hold (or finds it can, near the limits)."""
    for value in row.values():
        kind = type(value)
        if kind is float:
            if not (value == 0.0 or _SMALLEST < abs(value) < _LARGEST):  # NaN fails every comparison
                return False
        elif kind is int:
            if not -_INT_LIMIT < value < _INT_LIMIT:
                return False
        elif value is not None and kind is not str and kind is not bool:
            return False
    return True


def _item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item: names plus values, numbers counted as their text (an upper bound)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        (kind, data), = value.items()
        size += len(data) if kind == "B" else len(str(data).encode()) if kind in ("S", "N") else len(repr(data))
    return size


class ObjectStore:
    """Repository over the objects table (name from settings unless given); ``archive`` holds the full
    alerts :meth:`get` derives an object's lite lightcurve from (the settings' bucket unless given)."""

    def __init__(self, table_name: str | None = None, archive: AlertArchive | None = None):
        self.table_name = table_name or settings().objects_table
        self._client = client("dynamodb")
        self._archive = archive
        self._noted_nights: set[int] = set()  # nights this store has already added to the meta item

    # writes -------------------------------------------------------------------------
    def item(self, row: dict[str, Any], lite: dict[str, Any], *, schema_version: str = "",
             dia_source_id: int | None = None) -> ObjectItem:
        """The row as the item to write, converted and checked, with no I/O (``lite`` is not stored:
        the archived full alert holds it; see the module docstring).

        Raises :class:`UnstorableValue` (a ``ValueError``) when this one record cannot be
        stored: a value beyond DynamoDB's numbers, a missing key or time, an item over
        400 KB. Ingest calls it per record before the writes, so such a record goes to the
        dead-letter topic alone and the writes that follow can fail only for reasons
        outside the record (which then fail the batch for a retry).
        """
        return object_item(row, lite, schema_version=schema_version, dia_source_id=dia_source_id)

    def put_newest(self, items: Sequence[tuple[ObjectItem, AlertPointer | None]]) -> set[int]:
        """Write each object's newest item of ``items`` (with its full alert's pointer) unless a newer
        alert of that object is already stored; returns the diaObjectIds written.

        Requests: one strongly consistent BatchGetItem per 100 objects (what is stored: the read
        stands in for the condition BatchWriteItem cannot take; see the module docstring for why
        that is safe), one BatchWriteItem per 25 items written, and one UpdateItem per night not
        yet recorded by this store. Writing the same items again (a retried batch) writes the
        same state. Raises only for the store's failures.
        """
        newest: dict[int, tuple[ObjectItem, AlertPointer | None]] = {}
        for item, pointer in items:
            held = newest.get(item.dia_object_id)
            if held is None or item.version >= held[0].version:
                newest[item.dia_object_id] = (item, pointer)
        if not newest:
            return set()
        stored = self._versions(newest)
        write = [(item, pointer) for oid, (item, pointer) in newest.items()
                 if oid not in stored or item.version >= stored[oid]]
        updated = _now()
        batch_put(self._client, self.table_name,
                  [{**item.item, **_pointer_attributes(pointer), "updated": updated} for item, pointer in write],
                  parallel=WRITE_PARALLEL)
        for night in sorted({item.night for item, _ in write}):
            self._note_night(night)
        return {item.dia_object_id for item, _ in write}

    def _versions(self, ids: Iterable[int]) -> dict[int, tuple[Decimal, int]]:
        """The stored (lastDiaSourceMjdTai, diaSourceId) of each of ``ids`` that is stored."""
        found = batch_get(self.table_name, [{"diaObjectId": int(i)} for i in ids],
                          projection=_VERSION_ATTRIBUTES, consistent=True)
        return {int(item["diaObjectId"]): (Decimal(item.get("lastDiaSourceMjdTai", -1)),
                                           int(item.get("diaSourceId") or 0)) for item in found}

    def put_if_newer(self, item: ObjectItem, pointer: AlertPointer | None = None) -> bool:
        """Write ``item`` unless a newer alert of its object is already stored (one conditional put).

        Returns True when written (also when the same alert is written again), False when
        the stored state is newer and was kept.
        """
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={**item.item, **_pointer_attributes(pointer), "updated": _now()},
                ConditionExpression=_NEWER,
                ExpressionAttributeValues={":t": item.item["lastDiaSourceMjdTai"], ":s": item.item["diaSourceId"]},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        self._note_night(item.night)
        return True

    def upsert_if_newer(self, row: dict[str, Any], lite: dict[str, Any], *, schema_version: str = "",
                        dia_source_id: int | None = None, pointer: AlertPointer | None = None) -> bool:
        """:meth:`item` then :meth:`put_if_newer`, for callers that store one object at a time."""
        return self.put_if_newer(self.item(row, lite, schema_version=schema_version, dia_source_id=dia_source_id),
                                 pointer)

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
        """One object, with its lite lightcurve (read from its archived full alert: one ranged GET)."""
        item = self._client.get_item(
            TableName=self.table_name, Key={"diaObjectId": {"N": str(int(dia_object_id))}}, ConsistentRead=True
        ).get("Item")
        if not item or int(dia_object_id) == META_ID:
            return None
        stored = _to_stored({k: _DESERIALIZER.deserialize(v) for k, v in item.items()})
        if stored.lite is None:
            archived = self._full_alerts().get(stored.alert_pointer) if stored.alert_pointer is not None else None
            stored.lite = lite_from_full(archived[0]) if archived is not None else None
        return stored

    def _full_alerts(self) -> AlertArchive:
        if self._archive is None:
            self._archive = AlertArchive()
        return self._archive

    def get_many(self, ids: Iterable[int]) -> dict[int, StoredObject]:
        """The stored objects among ``ids``; their lite lightcurves are not read (``lite`` None)."""
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

    def in_sky_ranges(self, ranges: Iterable[PixelRange], limit: int | None = None) -> SkyScan:
        """Every indexed object in the ranges of the ``by-sky`` index, with its position.

        One Query per range (and per 1 MB page) for the ids (the index projects keys only, so that
        an object's moving position does not rewrite it: ``skystream.domain.sky``), then one
        BatchGetItem per 100 of them for their native ``ra``, ``decl``; the caller keeps those
        within its cone. The index, like every DynamoDB global secondary index, is eventually
        consistent: an object written a moment ago may be missing, and the position read is the
        table's latest, which may have moved on since the index was read. When the ranges hold more than
        ``limit`` objects, no position is read: the scan says how many (``over``), so a capped caller
        (a watchlist's rerun) pays the Queries but not the BatchGetItem calls it would refuse.
        """
        ids: list[int] = []
        queries = 0
        for r in ranges:
            query: dict[str, Any] = {
                "TableName": self.table_name, "IndexName": SKY_INDEX,
                "KeyConditionExpression": "sky_cell = :cell AND sky_pix BETWEEN :first AND :last",
                "ExpressionAttributeValues": {":cell": {"N": str(r.cell)}, ":first": {"N": str(r.first)},
                                              ":last": {"N": str(r.last)}},
                "ProjectionExpression": "diaObjectId",
            }
            while True:
                page = self._client.query(**query)
                queries += 1
                ids.extend(int(i["diaObjectId"]["N"]) for i in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        unique = list(dict.fromkeys(ids))
        if limit is not None and len(unique) > limit:
            return SkyScan(points=[], queries=queries, over=len(unique))
        items = batch_get(self.table_name, [{"diaObjectId": i} for i in unique],
                          projection=["diaObjectId", "ra", "decl"]) if unique else []
        points = [SkyPoint(int(i["diaObjectId"]), float(i["ra"]), float(i["decl"]))
                  for i in items if isinstance(i.get("ra"), Decimal) and isinstance(i.get("decl"), Decimal)
                  and is_position(float(i["ra"]), float(i["decl"]))]
        points.sort(key=lambda p: p.dia_object_id)
        return SkyScan(points=points, queries=queries, gets=-(-len(unique) // BATCH_GET_LIMIT))
