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
    return with_alert(row, utc=utc, alert=alert_payload(kind, lite=lite, full_alert=full_alert))


def alert_payload(kind: OutputKind, *, lite: Mapping[str, Any] | None = None,
                  full_alert: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The ``"alert"`` of a ``kind`` record (None: the kind has none), cleaned.

    Apart from :func:`build_record` so that a run builds it once per object and kind, not once per
    filter: cleaning a full alert of 100 detections takes ~10 ms.
    """
    if kind == "kafka_lite":
        lite = lite or {}
        return {
            "diaSourcesList": clean(list(lite.get("diaSourcesList") or [])),
            "diaForcedSourcesList": clean(list(lite.get("diaForcedSourcesList") or [])),
        }
    if kind == "kafka_full":
        if full_alert is None:
            raise ValueError("a kafka_full record needs the object's full alert")
        return clean(full_alert)
    return None


def with_alert(row: Mapping[str, Any], *, utc: str, alert: dict[str, Any] | None) -> dict[str, Any]:
    """The record of ``row``: its columns cleaned, ``"UTC"``, then ``"alert"`` (an :func:`alert_payload`) if any."""
    record: dict[str, Any] = {name: clean(value) for name, value in row.items()}
    record["UTC"] = utc
    if alert is not None:
        record["alert"] = alert
    return record


def encode_record(record: Mapping[str, Any]) -> bytes:
    return _json(record).encode("utf-8")


def _json(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def encoded_alert(alert: dict[str, Any] | None) -> str | None:
    """An :func:`alert_payload` as JSON text, for :func:`encode_with_alert`."""
    return None if alert is None else _json(alert)


def encode_with_alert(row: Mapping[str, Any], *, utc: str, alert_json: str | None) -> bytes:
    """``encode_record(with_alert(row, utc=utc, alert=...))`` byte for byte, given the alert already encoded
    (:func:`encoded_alert`): a run encodes an object's alert once, not once per filter (a full alert of 100
    detections takes ~1.5 ms to encode)."""
    record = with_alert(row, utc=utc, alert=None)
    if alert_json is None:
        return encode_record(record)
    if "alert" in record:  # a column named alert: the alert takes its place, not the end
        return encode_record({**record, "alert": json.loads(alert_json)})
    return (_json(record)[:-1] + ',"alert":' + alert_json + "}").encode("utf-8")
