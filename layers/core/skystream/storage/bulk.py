"""Bulk DynamoDB reads: BatchGetItem in chunks of 100 keys, unprocessed keys retried.

A filter batch joins up to a thousand objects with their annotations and context rows;
one GetItem per object would cost a round trip each. BatchGetItem takes 100 keys per
call and may hand some back as ``UnprocessedKeys`` under throttling: those are retried
with a short exponential backoff until none are left, or the call raises naming the table.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from skystream.aws import client

BATCH_GET_LIMIT = 100
_MAX_ATTEMPTS = 8
_MAX_PARALLEL = 8
_SERIALIZE = TypeSerializer().serialize
_DESERIALIZE = TypeDeserializer().deserialize


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


def _get_chunk(dynamodb: Any, table_name: str, keys: Sequence[dict[str, Any]],
               projection: Sequence[str] | None) -> list[dict[str, Any]]:
    request: dict[str, Any] = {"Keys": [{k: _SERIALIZE(v) for k, v in key.items()} for key in keys]}
    if projection:
        names = {f"#p{i}": name for i, name in enumerate(projection)}
        request["ProjectionExpression"] = ", ".join(names)
        request["ExpressionAttributeNames"] = names
    pending: dict[str, Any] = {table_name: request}
    found: list[dict[str, Any]] = []
    for attempt in range(_MAX_ATTEMPTS):
        response = dynamodb.batch_get_item(RequestItems=pending)
        found.extend(response.get("Responses", {}).get(table_name, []))
        pending = response.get("UnprocessedKeys") or {}
        if not pending:
            return [{k: _DESERIALIZE(v) for k, v in item.items()} for item in found]
        time.sleep(min(0.05 * 2**attempt, 1.0))
    left = len(pending.get(table_name, {}).get("Keys", []))
    raise BulkReadError(f"{left} key(s) of table {table_name} stayed unprocessed after {_MAX_ATTEMPTS} attempts")


def batch_get(table_name: str, keys: Iterable[Mapping[str, Any]], *,
              projection: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every item found for ``keys`` (missing keys are simply absent), in no particular order.

    Keys and items are plain Python values, as the boto3 resource layer gives them (numbers
    come back as ``Decimal``). ``projection`` limits the attributes read. Chunks go out in
    parallel (the low-level client is thread-safe), so a batch of 1000 objects costs about
    one round trip, not ten.
    """
    dynamodb = client("dynamodb")
    parts = list(chunks(_dedupe(keys), BATCH_GET_LIMIT))
    if len(parts) <= 1:
        return [item for part in parts for item in _get_chunk(dynamodb, table_name, part, projection)]
    with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL, len(parts))) as pool:
        results = pool.map(lambda part: _get_chunk(dynamodb, table_name, part, projection), parts)
        return [item for result in results for item in result]
