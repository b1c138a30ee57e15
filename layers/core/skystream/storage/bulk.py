"""Bulk DynamoDB reads: BatchGetItem in chunks of 100 keys, unprocessed keys retried.

A filter batch joins up to a thousand objects with their annotations and context rows;
one GetItem per object would cost a round trip each. BatchGetItem takes 100 keys per
call and may hand some back as ``UnprocessedKeys`` under throttling: those are retried
with a short exponential backoff until none are left, or the call raises naming the table.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from skystream.storage.aws import resource

BATCH_GET_LIMIT = 100
_MAX_ATTEMPTS = 8


class BulkReadError(RuntimeError):
    """DynamoDB kept returning unprocessed keys; retry the batch later (the table is throttled)."""


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dedupe(keys: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """BatchGetItem refuses a request holding the same key twice."""
    seen: set[tuple[tuple[str, Any], ...]] = set()
    unique: list[dict[str, Any]] = []
    for key in keys:
        marker = tuple(sorted(key.items()))
        if marker not in seen:
            seen.add(marker)
            unique.append(dict(key))
    return unique


def batch_get(table_name: str, keys: Iterable[Mapping[str, Any]], *,
              projection: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every item found for ``keys`` (missing keys are simply absent), in no particular order.

    Keys and items are plain Python values (the boto3 resource layer: numbers come back
    as ``Decimal``). ``projection`` limits the attributes read.
    """
    dynamodb = resource("dynamodb")
    found: list[dict[str, Any]] = []
    for chunk in chunks(_dedupe(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {"Keys": list(chunk)}
        if projection:
            names = {f"#p{i}": name for i, name in enumerate(projection)}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {table_name: request}
        for attempt in range(_MAX_ATTEMPTS):
            response = dynamodb.batch_get_item(RequestItems=pending)
            found.extend(response.get("Responses", {}).get(table_name, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0))
        else:
            left = len(pending.get(table_name, {}).get("Keys", []))
            raise BulkReadError(f"{left} key(s) of table {table_name} stayed unprocessed after {_MAX_ATTEMPTS} attempts")
    return found
