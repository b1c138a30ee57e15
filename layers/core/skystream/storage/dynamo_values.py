"""Python values <-> DynamoDB attribute values: floats as Decimal, NaN/inf as None.

DynamoDB refuses Python floats (boto3 wants Decimal) and has no NaN. Everyone who
stores floats goes through these two functions so the rules are the same everywhere.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal
from typing import Any

# DynamoDB numbers carry up to 38 significant digits; 17 round-trips an IEEE double exactly.
_CONTEXT = Context(prec=38)


def to_dynamo(value: Any) -> Any:
    """Recursively: float -> Decimal (repr-exact), NaN/inf -> None, tuples -> lists."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str | bytes | Decimal):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return _CONTEXT.create_decimal(repr(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    if isinstance(value, set | frozenset):
        return {to_dynamo(v) for v in value}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB; convert it to a number, string or list")


def from_dynamo(value: Any) -> Any:
    """Recursively: integral Decimal -> int, other Decimal -> float, NaN/inf -> None."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if value == value.to_integral_value() and value.as_tuple().exponent >= 0:
            return int(value)
        return float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {from_dynamo(v) for v in value}
    if isinstance(value, bytearray):
        return bytes(value)
    if hasattr(value, "value") and type(value).__name__ == "Binary":  # boto3.dynamodb.types.Binary
        return bytes(value.value)
    return value
