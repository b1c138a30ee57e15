"""Annotations in DynamoDB: the latest value per (object, annotator) and every upload as history.

Table keys (infra/template.yaml): hash ``diaObjectId`` (N), range ``sk`` (S).

- ``sk = "latest#<annotator>"``: what filters see. Overwritten only by a newer upload
  (a conditional put on ``uploaded_us``), so two racing uploads cannot leave the older one latest.
- ``sk = "history#<annotator>#<ISO time with microseconds>#<8 hex>"``: one item per upload,
  never overwritten; read back newest first by the objects endpoint.

``classdict`` is stored as JSON text, exactly as filters see it (``JSON_EXTRACT`` reads text),
which also keeps its floats away from DynamoDB's Decimal conversion.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from skystream.config import settings
from skystream.storage.aws import client, resource
from skystream.storage.bulk import batch_get

LATEST = "latest#"
_MAX_PARALLEL = 8
_SERIALIZE = TypeSerializer().serialize
HISTORY = "history#"

# The columns a filter sees for each annotator alias (the ``annotations`` table of the filter schema).
ANNOTATION_COLUMNS: tuple[str, ...] = (
    "diaObjectId", "annotator", "topic", "classification", "version", "explanation", "classdict", "url", "timestamp",
)


@dataclass(frozen=True)
class AnnotationRecord:
    """One accepted upload, as stored. ``classdict`` is the parsed JSON object."""

    annotator: str
    dia_object_id: int
    classification: str
    version: str = ""
    explanation: str = ""
    classdict: dict[str, Any] = field(default_factory=dict)
    url: str = ""
    user_id: int | None = None
    uploaded_us: int = field(default_factory=lambda: time.time_ns() // 1000)

    @property
    def timestamp(self) -> str:
        """``YYYY-MM-DD HH:MM:SS`` UTC, the form Lasair's annotations.timestamp takes in SQL."""
        return datetime.fromtimestamp(self.uploaded_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")

    def row(self) -> dict[str, Any]:
        """The row filters and the objects endpoint see (``classdict`` as JSON text)."""
        return {
            "diaObjectId": self.dia_object_id,
            "annotator": self.annotator,
            "topic": self.annotator,  # Lasair's name for the annotator column
            "classification": self.classification,
            "version": self.version,
            "explanation": self.explanation,
            "classdict": json.dumps(self.classdict, separators=(",", ":"), allow_nan=False),
            "url": self.url,
            "timestamp": self.timestamp,
        }


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
        """History in batched writes; latest by conditional put, one per (object, annotator)."""
        if not annotations:
            return
        table = self._table
        with table.batch_writer() as writer:
            for record in annotations:
                writer.put_item(Item=_item(record, _history_sk(record)))
        newest: dict[tuple[int, str], AnnotationRecord] = {}
        for record in annotations:
            key = (record.dia_object_id, record.annotator)
            if key not in newest or record.uploaded_us >= newest[key].uploaded_us:
                newest[key] = record
        dynamodb = client("dynamodb")  # thread-safe, unlike the resource: conditional puts go out in parallel
        if len(newest) == 1:
            self._put_latest(dynamodb, next(iter(newest.values())))
            return
        with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL, len(newest))) as pool:
            list(pool.map(lambda record: self._put_latest(dynamodb, record), newest.values()))

    def _put_latest(self, dynamodb: Any, record: AnnotationRecord) -> None:
        """Make ``record`` the latest unless a newer upload already is (then it stays history only)."""
        try:
            dynamodb.put_item(
                TableName=self.table_name,
                Item={k: _SERIALIZE(v) for k, v in _item(record, LATEST + record.annotator).items()},
                ConditionExpression="attribute_not_exists(sk) OR uploaded_us <= :us",
                ExpressionAttributeValues={":us": {"N": str(record.uploaded_us)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def latest(self, object_ids: Iterable[int], annotators: Iterable[str]) -> list[dict[str, Any]]:
        """The latest annotation row of each (object, annotator) pair that has one: BatchGetItem."""
        names = sorted(set(annotators))
        keys = [{"diaObjectId": int(i), "sk": LATEST + name} for i in dict.fromkeys(object_ids) for name in names]
        if not keys:
            return []
        return [_row(item) for item in batch_get(self.table_name, keys)]

    def _query(self, dia_object_id: int, prefix: str) -> list[dict[str, Any]]:
        table = self._table
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("diaObjectId").eq(int(dia_object_id)) & Key("sk").begins_with(prefix)
        }
        items: list[dict[str, Any]] = []
        while True:
            page = table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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
