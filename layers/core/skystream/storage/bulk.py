"""Bulk DynamoDB access, written once: batch reads, batch writes, and every page of a query or scan.

A filter batch joins up to a thousand objects with their annotations and context rows;
one GetItem per object would cost a round trip each. BatchGetItem takes 100 keys per
call and may hand some back as ``UnprocessedKeys`` under throttling: those are retried
with a short exponential backoff until none are left, or the call raises naming the table.
BatchWriteItem (:func:`batch_put`) is the same with 25 items a call and ``UnprocessedItems``.
:func:`paged_items` follows ``LastEvaluatedKey`` through boto3's paginator, so no caller
writes that loop by hand.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from skystream.aws import client

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
_MAX_ATTEMPTS = 8
_MAX_WRITE_ATTEMPTS = 10
_MAX_PARALLEL = 8
_SERIALIZE = TypeSerializer().serialize
_DESERIALIZE = TypeDeserializer().deserialize


class BulkReadError(RuntimeError):
    """DynamoDB kept returning unprocessed keys; retry the batch later (the table is throttled)."""


class BulkWriteError(RuntimeError):
    """DynamoDB kept returning unprocessed items; retry the batch later (the table is throttled).
    Every caller writes whole items under keys that are a function of their content, so a retry
    rewrites the same items."""


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
               projection: Sequence[str] | None, consistent: bool = False) -> list[dict[str, Any]]:
    request: dict[str, Any] = {"Keys": [{k: _SERIALIZE(v) for k, v in key.items()} for key in keys]}
    if consistent:
        request["ConsistentRead"] = True
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
              projection: Sequence[str] | None = None, consistent: bool = False) -> list[dict[str, Any]]:
    """Every item found for ``keys`` (missing keys are simply absent), in no particular order.

    Keys and items are plain Python values, as the boto3 resource layer gives them (numbers
    come back as ``Decimal``). ``projection`` limits the attributes read (not the read units:
    DynamoDB charges for the whole item); ``consistent`` asks for strongly consistent reads
    (twice the read units). Chunks go out in
    parallel (the low-level client is thread-safe), so a batch of 1000 objects costs about
    one round trip, not ten.
    """
    dynamodb = client("dynamodb")
    parts = list(chunks(_dedupe(keys), BATCH_GET_LIMIT))
    if len(parts) <= 1:
        return [item for part in parts for item in _get_chunk(dynamodb, table_name, part, projection, consistent)]
    with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL, len(parts))) as pool:
        results = pool.map(lambda part: _get_chunk(dynamodb, table_name, part, projection, consistent), parts)
        return [item for result in results for item in result]


def typed(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain item (ints, strings, Decimals, ...) as the low-level client's attribute values."""
    return {k: _SERIALIZE(v) for k, v in item.items()}


def batch_put(dynamodb: Any, table_name: str, items: Sequence[Mapping[str, Any]], *, parallel: int = 1) -> int:
    """Put ``items`` (low-level attribute values, see :func:`typed`) with BatchWriteItem, 25 a call.

    Items DynamoDB hands back as ``UnprocessedItems`` (throttling) are sent again with an
    exponential backoff; if some are still left after 10 attempts, :class:`BulkWriteError`
    names the table and how many. ``parallel`` calls go out at once (the chunks are
    independent). Returns how many items were written.
    """
    parts = list(chunks(items, BATCH_WRITE_LIMIT))
    if parallel <= 1 or len(parts) <= 1:
        for part in parts:
            _put_chunk(dynamodb, table_name, part)
    else:
        with ThreadPoolExecutor(max_workers=min(parallel, len(parts))) as pool:
            list(pool.map(lambda part: _put_chunk(dynamodb, table_name, part), parts))  # re-raises the first error
    return len(items)


def _put_chunk(dynamodb: Any, table_name: str, chunk: Sequence[Mapping[str, Any]]) -> None:
    pending: dict[str, Any] = {table_name: [{"PutRequest": {"Item": dict(item)}} for item in chunk]}
    for attempt in range(_MAX_WRITE_ATTEMPTS):
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not pending:
            return
        time.sleep(min(0.05 * 2**attempt, 2.0))
    raise BulkWriteError(
        f"{len(pending.get(table_name, []))} item(s) stayed unprocessed in table {table_name} after "
        f"{_MAX_WRITE_ATTEMPTS} attempts (it is throttled); retry the batch"
    )


def paged_items(dynamodb: Any, operation: Literal["query", "scan"], **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Query or Scan, page after page, through boto3's paginator.

    With a low-level client the items are attribute values (``{"S": ...}``); with a resource
    table's client (``table.meta.client``) conditions may be ``Key``/``Attr`` expressions and
    the items come back as plain values, as ``table.query`` gives them.
    """
    for page in dynamodb.get_paginator(operation).paginate(**kwargs):
        yield from page.get("Items", [])
