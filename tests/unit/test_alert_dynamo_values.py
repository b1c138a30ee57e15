"""Floats to DynamoDB numbers and back, NaN and infinities as NULL."""

import math
from decimal import Decimal

from skystream.storage.dynamo_values import from_dynamo, to_dynamo


def test_floats_round_trip_exactly_and_nan_becomes_none() -> None:
    value = {"a": 0.1, "b": [60903.993305483615, 1e-120, -2.5], "c": math.nan, "d": math.inf, "e": 7, "f": "x",
             "g": True, "h": None}
    stored = to_dynamo(value)
    assert stored["a"] == Decimal("0.1") and stored["c"] is None and stored["d"] is None
    assert from_dynamo(stored) == {**value, "c": None, "d": None}


def test_integral_decimals_read_as_int_and_others_as_float() -> None:
    assert from_dynamo(Decimal("60903")) == 60903 and isinstance(from_dynamo(Decimal("60903")), int)
    assert from_dynamo(Decimal("2.0")) == 2.0 and isinstance(from_dynamo(Decimal("2.0")), float)
    assert from_dynamo(Decimal("NaN")) is None
