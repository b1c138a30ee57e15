"""Annotations in DynamoDB: the latest value per (object, annotator) and every upload as history.

Table keys (infra/template.yaml): hash ``diaObjectId`` (N), range ``sk`` (S).

- ``sk = "latest#<annotator>"``: what filters see. Overwritten only by a newer upload
  (a conditional put on ``uploaded_us``), so two racing uploads cannot leave the older one latest.
- ``sk = "history#<annotator>#<ISO time with microseconds>#<8 hex>"``: one item per upload,
  never overwritten; read back newest first by the objects endpoint.

``classdict`` is stored as JSON text, exactly as filters see it (``JSON_EXTRACT`` reads text),
which also keeps its floats away from DynamoDB's Decimal conversion.

An upload is written all or nothing: every item is built and serialised first (a value
DynamoDB cannot hold fails there, before any write), then the history items and the
latest items go out in one ``TransactWriteItems``, which DynamoDB applies entirely or not at
all. That bounds one call to :data:`MAX_TRANSACTION_ITEMS` writes and about 4 MB.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from skystream.aws import client, resource
from skystream.config import settings
from skystream.domain.annotations import AnnotationRecord
from skystream.domain.errors import AnnotationBatchTooLarge
from skystream.storage.bulk import batch_get, paged_items

LATEST = "latest#"
_SERIALIZE = TypeSerializer().serialize
HISTORY = "history#"
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit on the writes of one TransactWriteItems
MAX_TRANSACTION_BYTES = 3_500_000  # DynamoDB's limit is 4 MB; the estimate below is rough, so keep well under
_TRANSACTION_ATTEMPTS = 5

# The columns a filter sees for each annotator alias (the ``annotations`` table of the filter schema).
ANNOTATION_COLUMNS: tuple[str, ...] = (
    "diaObjectId", "annotator", "topic", "classification", "version", "explanation", "classdict", "url", "timestamp",
)


def _item(record: AnnotationRecord, sk: str) -> dict[str, Any]:
    item = {**record.row(), "sk": sk, "uploaded_us": record.uploaded_us}
    if record.user_id is not None:
        item["user_id"] = record.user_id
    return item


def _row(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item back to the filter row: numbers to int, bookkeeping attributes dropped."""
    row = {name: item.get(name) for name in ANNOTATION_COLUMNS}
    row["diaObjectId"] = int(row["diaObjectId"])
    return row


def _estimated_bytes(item: dict[str, Any]) -> int:
    """An upper estimate of a DynamoDB item's size: names and strings in UTF-8, numbers at most 21 bytes."""
    return sum(len(name.encode()) + (len(value.encode()) if isinstance(value, str) else 21)
               for name, value in item.items())


def _history_sk(record: AnnotationRecord) -> str:
    when = datetime.fromtimestamp(record.uploaded_us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{HISTORY}{record.annotator}#{when}#{uuid.uuid4().hex[:8]}"


class AnnotationStore:
    """The annotations table (name from ``ANNOTATIONS_TABLE``)."""

    def __init__(self, table_name: str | None = None):
        self.table_name = table_name or settings().annotations_table

    @property
    def _table(self) -> Any:
        return resource("dynamodb").Table(self.table_name)

    def put(self, annotation: AnnotationRecord) -> None:
        """Keep the upload as history, then make it the latest unless a newer one is already there."""
        self.put_many([annotation])

    def put_many(self, annotations: Sequence[AnnotationRecord]) -> None:
        """Every upload as history, and each (object, annotator)'s newest as latest: all of it, or nothing.

        Raises :class:`AnnotationBatchTooLarge` (nothing written) when the writes do not fit in one
        transaction. A latest item that a newer upload already holds is left alone (its upload is
        still history): the transaction is retried without it.
        """
        if not annotations:
            return
        newest: dict[tuple[int, str], AnnotationRecord] = {}
        for record in annotations:
            key = (record.dia_object_id, record.annotator)
            if key not in newest or record.uploaded_us >= newest[key].uploaded_us:
                newest[key] = record
        history_items = [_item(record, _history_sk(record)) for record in annotations]
        latest_items = [_item(record, LATEST + record.annotator) for record in newest.values()]
        size = sum(_estimated_bytes(item) for item in (*history_items, *latest_items))
        # Serialised here, before any write: a value DynamoDB cannot hold fails now, with nothing stored.
        history = [self._put(item) for item in history_items]
        latest = [self._put(item, newer_than=item["uploaded_us"]) for item in latest_items]
        if len(history) + len(latest) > MAX_TRANSACTION_ITEMS or size > MAX_TRANSACTION_BYTES:
            raise AnnotationBatchTooLarge(
                f"nothing was stored: {len(annotations)} annotations make {len(history) + len(latest)} writes of about "
                f"{size / 1e6:.1f} MB; one request is stored in one transaction of at most "
                f"{MAX_TRANSACTION_ITEMS} writes and {MAX_TRANSACTION_BYTES / 1e6:g} MB: send fewer at a time"
            )
        dynamodb = client("dynamodb")
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                dynamodb.transact_write_items(TransactItems=history + latest)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
                superseded = {i - len(history) for i, code in enumerate(reasons)
                              if code == "ConditionalCheckFailed" and i >= len(history)}
                if superseded:  # a newer upload is latest there: keep ours as history only
                    latest = [action for i, action in enumerate(latest) if i not in superseded]
                elif "TransactionConflict" in reasons:  # another transaction held an item: try again shortly
                    time.sleep(0.05 * 2**attempt)
                else:
                    raise
        raise RuntimeError(f"annotations of {len(newest)} object(s) were not stored: the transaction was "
                           f"cancelled {_TRANSACTION_ATTEMPTS} times by concurrent writes; send them again")

    def _put(self, item: dict[str, Any], newer_than: int | None = None) -> dict[str, Any]:
        """One transaction write of ``item``; with ``newer_than`` only over an item no newer than it."""
        put: dict[str, Any] = {"TableName": self.table_name, "Item": {k: _SERIALIZE(v) for k, v in item.items()}}
        if newer_than is not None:
            put["ConditionExpression"] = "attribute_not_exists(sk) OR uploaded_us <= :us"
            put["ExpressionAttributeValues"] = {":us": {"N": str(newer_than)}}
        return {"Put": put}

    def latest(self, object_ids: Iterable[int], annotators: Iterable[str]) -> list[dict[str, Any]]:
        """The latest annotation row of each (object, annotator) pair that has one: BatchGetItem."""
        names = sorted(set(annotators))
        keys = [{"diaObjectId": int(i), "sk": LATEST + name} for i in dict.fromkeys(object_ids) for name in names]
        if not keys:
            return []
        return [_row(item) for item in batch_get(self.table_name, keys)]

    def _query(self, dia_object_id: int, prefix: str) -> list[dict[str, Any]]:
        return list(paged_items(
            self._table.meta.client, "query", TableName=self.table_name,
            KeyConditionExpression=Key("diaObjectId").eq(int(dia_object_id)) & Key("sk").begins_with(prefix)))

    def history(self, dia_object_id: int) -> list[dict[str, Any]]:
        """Every upload for the object, all annotators, newest first."""
        items = self._query(dia_object_id, HISTORY)
        items.sort(key=lambda item: (Decimal(item.get("uploaded_us", 0)), item["sk"]), reverse=True)
        return [_row(item) for item in items]

    def latest_for_object(self, dia_object_id: int) -> list[dict[str, Any]]:
        """The current annotation of each annotator for one object, by annotator name."""
        return sorted((_row(item) for item in self._query(dia_object_id, LATEST)), key=lambda r: r["annotator"])

    def for_object(self, dia_object_id: int) -> dict[str, list[dict[str, Any]]]:
        """What the objects endpoint shows: ``{"annotations": latest per annotator, "history": newest first}``."""
        return {"annotations": self.latest_for_object(dia_object_id), "history": self.history(dia_object_id)}
