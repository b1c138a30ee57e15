"""Counting what the AWS calls of a piece of code would be billed for: requests, DynamoDB units, S3 bytes.

A :class:`RequestMeter` hooks botocore's event system on the boto3 clients it is given (the
ones :func:`skystream.aws.client` hands every store), so whatever the code under test does
through them is counted at the client, against moto, LocalStack or AWS alike:

- **requests**: every HTTP attempt, by service and operation (``before-send``: a retried
  attempt is a billed request too);
- **DynamoDB write units**: per item written (PutItem, each put of BatchWriteItem,
  UpdateItem), ``ceil(item size / 1 KB)``, item size by DynamoDB's documented rules
  (:func:`item_size`); ``items_written`` counts the items per table, so a caller can add what
  the table's indexes cost;
- **DynamoDB read units**: per item read (GetItem, BatchGetItem; Query and Scan per page),
  ``ceil(size / 4 KB)``, halved for eventually consistent reads. DynamoDB charges for the whole
  item whatever the projection, so an item this meter saw written is charged at the size it was
  written with; an item it never saw at the size that came back (a lower bound);
- **S3 bytes**: PutObject bodies and GetObject content lengths.

The rules are AWS's ("Item sizes and formats", "Read/write capacity mode" in the DynamoDB
developer guide); the meter does not ask DynamoDB, so it gives the same figures on moto.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def number_size(text: str) -> int:
    """Bytes DynamoDB counts for a number: about one per two significant digits, plus one (and one if negative)."""
    digits = str(Decimal(text).normalize()).lstrip("-").replace(".", "").lstrip("0")
    digits = digits.split("E")[0].split("e")[0].rstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1 + text.strip().startswith("-")


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value in wire form (``{"N": "1.5"}``, ``{"M": {...}}``)."""
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def _body_length(body: Any) -> int:
    """A PutObject body's length: bytes, or the file-like object boto3 wraps them in before us."""
    if isinstance(body, bytes | bytearray):
        return len(body)
    if isinstance(body, str):
        return len(body.encode())
    if hasattr(body, "getbuffer"):
        return body.getbuffer().nbytes
    if hasattr(body, "seek") and hasattr(body, "tell"):
        here = body.tell()
        size = body.seek(0, 2)
        body.seek(here)
        return int(size) - here
    return 0


@dataclass
class Usage:
    """What the metered calls would be billed for."""

    requests: Counter[str] = field(default_factory=Counter)  # "dynamodb.BatchWriteItem" -> HTTP attempts
    write_units: int = 0
    read_units: float = 0.0
    items_written: Counter[str] = field(default_factory=Counter)  # table -> items written
    bytes_written: Counter[str] = field(default_factory=Counter)  # table -> bytes of the items written
    s3_put_bytes: int = 0
    s3_get_bytes: int = 0

    def count(self, service: str, operations: Iterable[str] | None = None) -> int:
        """Requests to ``service`` (only ``operations`` of it, when given)."""
        wanted = set(operations) if operations is not None else None
        return sum(n for name, n in self.requests.items()
                   if name.split(".")[0] == service and (wanted is None or name.split(".")[1] in wanted))


class RequestMeter:
    """Counts the billable usage of calls made through ``clients`` while it is entered.

    ``key_names``: the attributes that make an item's key in the metered tables (to charge a read
    at the size its item was written with).
    """

    def __init__(self, clients: Iterable[Any], key_names: Iterable[str] = ("diaObjectId",)):
        self.clients = list(clients)
        self.key_names = tuple(key_names)
        self.usage = Usage()
        self._sizes: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}  # (table, key) -> size written

    def __enter__(self) -> RequestMeter:
        for c in self.clients:
            c.meta.events.register("before-send", self._on_send)
            c.meta.events.register("before-parameter-build", self._on_params)
            c.meta.events.register("after-call", self._on_response)
        return self

    def __exit__(self, *exc: object) -> None:
        for c in self.clients:
            c.meta.events.unregister("before-send", self._on_send)
            c.meta.events.unregister("before-parameter-build", self._on_params)
            c.meta.events.unregister("after-call", self._on_response)

    def reset(self) -> Usage:
        """The usage so far; counting starts again from zero (sizes of written items are kept)."""
        usage, self.usage = self.usage, Usage()
        return usage

    # -- hooks ------------------------------------------------------------------------
    @staticmethod
    def _operation(event_name: str) -> str:
        parts = event_name.split(".")
        return f"{parts[1]}.{parts[2]}" if len(parts) >= 3 else event_name

    def _on_send(self, event_name: str, **_: Any) -> None:
        self.usage.requests[self._operation(event_name)] += 1

    def _on_params(self, event_name: str, params: dict[str, Any], context: dict[str, Any] | None = None,
                   **_: Any) -> None:
        operation = self._operation(event_name)
        if context is not None:  # the response handler needs to know whether the read was consistent
            consistent = params.get("ConsistentRead", False) or any(
                r.get("ConsistentRead", False) for r in params.get("RequestItems", {}).values() if isinstance(r, dict))
            context["metered_consistent"] = bool(consistent)
        if operation == "s3.PutObject":
            self.usage.s3_put_bytes += _body_length(params.get("Body", b""))
        elif operation == "dynamodb.PutItem":
            self._written(params["TableName"], params["Item"])
        elif operation == "dynamodb.BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        self._written(table, request["PutRequest"]["Item"])
                    else:
                        self.usage.write_units += 1
                        self.usage.items_written[table] += 1
        elif operation in ("dynamodb.UpdateItem", "dynamodb.DeleteItem"):
            size = self._sizes.get(self._key_of(params["TableName"], params["Key"]), item_size(params["Key"]))
            self.usage.write_units += write_units(size)
            self.usage.items_written[params["TableName"]] += 1

    def _on_response(self, event_name: str, parsed: dict[str, Any], context: dict[str, Any] | None = None,
                     **_: Any) -> None:
        operation = self._operation(event_name)
        consistent = bool((context or {}).get("metered_consistent", False))
        if operation == "s3.GetObject":
            self.usage.s3_get_bytes += int(parsed.get("ContentLength") or 0)
        elif operation == "dynamodb.GetItem" and parsed.get("Item"):
            self._read(parsed["Item"], consistent)
        elif operation == "dynamodb.BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                for item in items:
                    self._read(item, consistent, table)
        elif operation in ("dynamodb.Query", "dynamodb.Scan"):
            size = sum(item_size(i) for i in parsed.get("Items", []))
            self.usage.read_units += read_units(size, consistent)

    # -- units ------------------------------------------------------------------------
    @staticmethod
    def _key(table: str, key: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
        return table, tuple(sorted((name, str(value)) for name, value in key.items()))

    def _key_of(self, table: str, item: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self._key(table, {name: item[name] for name in self.key_names if name in item})

    def _written(self, table: str, item: Mapping[str, Any]) -> None:
        size = item_size(item)
        self.usage.write_units += write_units(size)
        self.usage.items_written[table] += 1
        self.usage.bytes_written[table] += size
        self._sizes[self._key_of(table, item)] = size

    def _read(self, item: Mapping[str, Any], consistent: bool, table: str | None = None) -> None:
        size = item_size(item)
        if table is not None:
            size = max(size, self._sizes.get(self._key_of(table, item), 0))
        self.usage.read_units += read_units(size, consistent)
