"""The values skystream accepts where records enter, stated once.

Every store a record reaches has limits: SQLite binds integers of 64 bits, DynamoDB
numbers of 38 digits within 1e-130..1e126, JSON has no NaN, Python's parser recurses.
A record beyond one of them used to fail its whole batch deep inside a store, and the
event source retried that batch without end, stopping every later record. So each
trigger checks its records against these bounds as they enter and refuses a record
that is outside them (to the dead-letter topic, with the reason), or cleans what has
an honest meaning: a non-finite number (NaN, inf, -inf) becomes NULL, "unknown".

- ids (``diaObjectId``, ``diaSourceId``): integers that fit a signed 64-bit integer
  (``diaObjectId`` also positive: Rubin's are, and -1 is the objects table's meta item);
- times: a finite MJD within [:data:`MJD_MIN`, :data:`MJD_MAX`];
- JSON: nested at most :data:`MAX_JSON_DEPTH` deep, integers of at most
  :data:`MAX_JSON_INT_DIGITS` digits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# 1941-01-06 .. 2132-09-01: wider than any digital survey's data, narrow enough that a time in it
# is a time (a night index, a sort key) and not a corrupted double such as 1e300.
MJD_MIN = 30_000.0
MJD_MAX = 100_000.0
MAX_JSON_DEPTH = 32  # an alert is nested 4 deep; far below Python's recursion limit
MAX_JSON_INT_DIGITS = 20  # every 64-bit integer fits; Python itself refuses > 4300 digits with a ValueError


class OutOfBounds(ValueError):
    """A value no store can hold; ``reason`` says which, where, and what is accepted."""

    @property
    def reason(self) -> str:
        return str(self)


def is_integer(value: Any) -> bool:
    """An int that is not a bool (JSON ``true`` is not a number here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def fits_int64(value: Any) -> bool:
    return is_integer(value) and INT64_MIN <= value <= INT64_MAX


def id_problem(name: str, value: Any, *, positive: bool = False) -> str | None:
    """Why ``value`` cannot be the id ``name`` (None when it can)."""
    if not is_integer(value):
        return f"{name} must be an integer, not {_show(value)}"
    low = 1 if positive else INT64_MIN
    if not low <= value <= INT64_MAX:
        kind = "a positive signed 64-bit integer" if positive else "a signed 64-bit integer"
        return f"{name} = {_show(value)} is not {kind} (at most {INT64_MAX})"
    return None


def mjd_problem(name: str, value: Any, *, optional: bool = False, finite: bool = False) -> str | None:
    """Why ``value`` cannot be the time ``name`` (None when it can).

    A number is needed (None too when ``optional``); a finite one must lie in the accepted
    range. A non-finite one is "unknown", stored as NULL, unless ``finite`` is asked for.
    """
    if value is None and optional:
        return None
    if not is_number(value):
        return f"{name} is missing or not a number"
    if not math.isfinite(value):
        return f"{name} is {value}, not a finite time" if finite else None
    if not MJD_MIN <= value <= MJD_MAX:
        return f"{name} = {value!r} is outside the accepted MJD range {MJD_MIN:g}..{MJD_MAX:g}"
    return None


def finite_or_none(value: Any) -> Any:
    """NaN and infinities as None; every other value as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def pick_finite(point: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """``{name: finite_or_none(point.get(name))}`` for ``fields``, in one loop (it runs for every point
    of every lightcurve: the call per value was a tenth of ingest's time)."""
    out: dict[str, Any] = {}
    isfinite = math.isfinite
    for name in fields:
        value = point.get(name)
        out[name] = None if isinstance(value, float) and not isfinite(value) else value
    return out


def _show(value: Any) -> str:
    """A short, safe rendering (``repr`` of an int over 4300 digits raises ValueError)."""
    if is_integer(value) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"
