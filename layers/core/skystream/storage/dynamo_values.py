"""Python values <-> DynamoDB attribute values: floats as Decimal, NaN/inf as None.

DynamoDB refuses Python floats (boto3 wants Decimal), has no NaN, and holds numbers of at
most 38 significant digits with magnitudes 1e-130 to 1e126. Everyone who stores numbers
goes through these two functions so the rules are the same everywhere: a non-finite
number becomes None ("unknown"); a number DynamoDB cannot hold raises
:class:`UnstorableValue` here, naming it, instead of a bare ``decimal.Overflow`` from
inside boto3's serializer when the write is already under way.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal, DecimalException
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT

from skystream.domain.bounds import OutOfBounds

# DynamoDB numbers carry up to 38 significant digits; 17 round-trips an IEEE double exactly.
_CONTEXT = Context(prec=38)


_NO_VALUE = object()


class UnstorableValue(OutOfBounds):
    """A value (or item) DynamoDB cannot hold. ``path`` names where it sits (``objects.g_psfFlux``)."""

    def __init__(self, why: str, value: Any = _NO_VALUE):
        super().__init__(why)
        self.value = value
        self.why = why
        self.path: list[str] = []

    def __str__(self) -> str:
        where = ".".join(self.path).replace(".[", "[")
        if self.value is _NO_VALUE:
            return f"{where}: {self.why}" if where else self.why
        return f"{where or 'a value'} = {_show(self.value)} cannot be stored in DynamoDB: {self.why}"


def to_dynamo(value: Any) -> Any:
    """Recursively: float -> Decimal (repr-exact), NaN/inf -> None, tuples -> lists.

    Raises :class:`UnstorableValue` for a number beyond DynamoDB's range or precision, or a
    type it has no form for.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str | bytes):
        return value
    if isinstance(value, int):
        return _checked(value, value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return _checked(value, _CONTEXT.create_decimal(repr(value)))
    if isinstance(value, Decimal):
        return _checked(value, value) if value.is_finite() else None
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            try:
                out[k] = to_dynamo(v)
            except UnstorableValue as exc:
                exc.path.insert(0, str(k))
                raise
        return out
    if isinstance(value, list | tuple):
        items = []
        for i, v in enumerate(value):
            try:
                items.append(to_dynamo(v))
            except UnstorableValue as exc:
                exc.path.insert(0, f"[{i}]")
                raise
        return items
    if isinstance(value, set | frozenset):
        return {to_dynamo(v) for v in value}
    raise UnstorableValue(f"DynamoDB has no form for a {type(value).__name__}; convert it to a number, "
                          "string or list", value)


def _checked(original: Any, number: int | Decimal) -> int | Decimal:
    """``number`` when boto3's serializer will take it (its own context, traps and all)."""
    try:
        DYNAMODB_CONTEXT.create_decimal(number)
    except DecimalException:
        raise UnstorableValue("DynamoDB numbers have at most 38 significant digits and a magnitude between "
                              "1e-130 and 1e126", original) from None
    return number


def _show(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of {len(str(value)) if value.bit_length() < 14_000 else 'over 4300'} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
