"""The JSON records users' consumers read, in the shapes of Lasair's alert-streams page.

``kafka_plain``: the SELECTed attributes under their column names, then ``"UTC"``.
``kafka_lite``:  the same, plus ``"alert"`` = the lite lightcurve
                 (``diaSourcesList`` with psfFlux, psfFluxErr, midpointMjdTai, band, reliability;
                 ``diaForcedSourcesList`` without reliability).
``kafka_full``:  the same, plus ``"alert"`` = the whole alert without cutouts
                 (``diaObject``, ``diaSourcesList`` newest first, ``diaForcedSourcesList``).
Values that are not finite numbers are written as ``null`` so every record is strict JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from skystream.domain.filters import Output as OutputKind

UTC_FORMAT = "%Y-%m-%d %H:%M:%S"


def utc_stamp(moment: datetime | None = None) -> str:
    """``"YYYY-MM-DD HH:MM:SS"`` in UTC, the ``UTC`` field of every record."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime(UTC_FORMAT)


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, Decimal -> int/float, bytes dropped (cutouts never leave)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items() if not isinstance(v, bytes | bytearray)}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def build_record(
    kind: OutputKind,
    row: Mapping[str, Any],
    *,
    utc: str,
    lite: Mapping[str, Any] | None = None,
    full_alert: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One output record for one matching row of a filter."""
    record: dict[str, Any] = {name: clean(value) for name, value in row.items()}
    record["UTC"] = utc
    if kind == "kafka_lite":
        lite = lite or {}
        record["alert"] = {
            "diaSourcesList": clean(list(lite.get("diaSourcesList") or [])),
            "diaForcedSourcesList": clean(list(lite.get("diaForcedSourcesList") or [])),
        }
    elif kind == "kafka_full":
        if full_alert is None:
            raise ValueError("a kafka_full record needs the object's full alert")
        record["alert"] = clean(full_alert)
    return record


def encode_record(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, allow_nan=False, separators=(",", ":")).encode("utf-8")
