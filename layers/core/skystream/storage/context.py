"""Context tables per object (``sherlock_classifications``, ``crossmatch_tns``) in DynamoDB.

Table keys (infra/template.yaml): hash ``diaObjectId`` (N), range ``table_name`` (S); one
item per (object, table), so a reload replaces an object's row. The row itself is kept as
JSON text in attribute ``row``: it is only ever read whole (to join in a filter batch or
show on the objects endpoint), never queried by column, and JSON keeps its floats exact
without DynamoDB's Decimal conversion.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from skystream.aws import client, resource
from skystream.config import settings
from skystream.domain.errors import UnknownContextTable
from skystream.outputs.formats import clean, encode_record
from skystream.storage.bulk import batch_get, batch_put, typed

CONTEXT_TABLES: tuple[str, ...] = ("sherlock_classifications", "crossmatch_tns")


def check_table(table: str) -> str:
    if table not in CONTEXT_TABLES:
        raise UnknownContextTable(f"unknown context table {table!r}; use one of {', '.join(CONTEXT_TABLES)}")
    return table


def _encode(row: dict[str, Any]) -> str:
    """Strict JSON, as output records are: NaN and infinities mean "unknown" and are stored as null."""
    return encode_record(clean(row)).decode()


class ContextStore:
    """The context table (name from ``CONTEXT_TABLE``)."""

    def __init__(self, table_name: str | None = None):
        self.table_name = table_name or settings().context_table

    @property
    def _table(self) -> Any:
        return resource("dynamodb").Table(self.table_name)

    def put_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """Store (replace) each object's row of ``table``; every row needs an integer ``diaObjectId``.

        Returns how many rows were written (a later row for the same object wins).
        """
        check_table(table)
        loaded = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        items: dict[int, dict[str, Any]] = {}
        for n, row in enumerate(rows, start=1):
            raw = row.get("diaObjectId")
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise ValueError(f"{table} row {n}: diaObjectId must be an integer, got {raw!r}")
            items[raw] = {"diaObjectId": raw, "table_name": table, "row": _encode({**row, "diaObjectId": raw}),
                          "loaded": loaded}
        return batch_put(client("dynamodb"), self.table_name, [typed(item) for item in items.values()])

    def rows(self, object_ids: Iterable[int], table: str) -> list[dict[str, Any]]:
        """The ``table`` rows of the objects that have one: BatchGetItem in chunks of 100."""
        return self.rows_of(object_ids, [table])[table]

    def rows_of(self, object_ids: Iterable[int], tables: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Rows of several context tables at once (one pass of BatchGetItem over all keys)."""
        wanted = [check_table(t) for t in dict.fromkeys(tables)]
        result: dict[str, list[dict[str, Any]]] = {t: [] for t in wanted}
        keys = [{"diaObjectId": int(i), "table_name": t} for i in dict.fromkeys(object_ids) for t in wanted]
        if not keys:
            return result
        for item in batch_get(self.table_name, keys, projection=("table_name", "row")):
            result[item["table_name"]].append(json.loads(item["row"]))
        return result

    def for_object(self, dia_object_id: int) -> dict[str, dict[str, Any]]:
        """Every context row of one object, by table name (for the objects endpoint)."""
        page = self._table.query(KeyConditionExpression=Key("diaObjectId").eq(int(dia_object_id)))
        return {item["table_name"]: json.loads(item["row"]) for item in page.get("Items", [])}
