"""Alert bytes <-> alert dicts: the Confluent wire format (Avro), Avro container files and JSON.

Rubin publishes ``0x00 | 4-byte big-endian schema id | schemaless Avro body``. Every way a
record can be wrong ends in :class:`BadAlert` with a reason a person can act on; the
ingest service sends such records to the dead-letter topic with that reason, it never
lets them stop a partition. That includes values no store downstream could hold
(:mod:`skystream.domain.bounds`): ids beyond 64 bits, times outside the accepted MJD range, JSON
nested too deep or with integers too long to parse safely.
"""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass
from functools import cache
from typing import Any

import fastavro

from skystream.alerts.schema_files import (
    LATEST_VERSION,
    SCHEMA_VERSIONS,
    UnknownSchema,
    parsed_schema,
    registry_schema,
    schema_id,
    version_for_id,
)
from skystream.domain.bounds import (
    INT64_MAX,
    INT64_MIN,
    MAX_JSON_DEPTH,
    MAX_JSON_INT_DIGITS,
    MJD_MAX,
    MJD_MIN,
    id_problem,
    is_integer,
    is_number,
    mjd_problem,
)

WIRE_MAGIC = 0
_HEADER = struct.Struct(">bI")
_CONTAINER_MAGIC = b"Obj\x01"
_V11_1_ONLY = frozenset({"exposureTime", "trailAlgorithm", "trail_flag", "reliabilityVersion"})
# diaObject times that reach the objects row (validityStartMjdTai) or the features (first/last)
_DIA_OBJECT_TIMES = ("validityStartMjdTai", "firstDiaSourceMjdTai", "lastDiaSourceMjdTai")


class BadAlert(ValueError):
    """A record that is not a usable alert. ``reason`` goes into the dead-letter record's header."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class DecodedAlert:
    alert: dict[str, Any]
    schema_version: str  # "10.0" | "11.0" | "11.1"
    without_cutouts: bytes | None = None
    """The record as it came (Confluent wire format) minus its trailing cutouts: what the archive keeps
    (:func:`decode_archived` reads it back). None for JSON and Avro container-file records."""

    @property
    def is_solar_system(self) -> bool:
        """Solar-system alerts carry no diaObject; the broker skips them (and counts them)."""
        return self.alert.get("diaObject") is None


def encode_alert(alert: dict[str, Any], schema_version: str = LATEST_VERSION) -> bytes:
    """The Confluent wire format for ``alert`` under ``schema_version`` (raises ValueError if it does not fit)."""
    body = io.BytesIO()
    body.write(_HEADER.pack(WIRE_MAGIC, schema_id(schema_version)))
    fastavro.schemaless_writer(body, parsed_schema(schema_version), alert)
    return body.getvalue()


def decode_alert(value: bytes) -> DecodedAlert:
    """Decode one Kafka record value: wire-format Avro, an Avro container file (first record), or JSON."""
    if not value:
        raise BadAlert("empty record: no bytes to decode")
    first = value[0]
    if first == WIRE_MAGIC:
        decoded = _decode_wire(value)
    elif value.startswith(_CONTAINER_MAGIC):
        decoded = _decode_container(value)
    elif value.lstrip()[:1] == b"{":
        decoded = _decode_json(value)
    else:
        raise BadAlert(
            f"wrong magic byte 0x{first:02x}: expected 0x00 (Confluent wire format), an Avro container file "
            "or a JSON object"
        )
    _check_shape(decoded.alert)
    return decoded


def _schema_of(identifier: int) -> tuple[Any, str]:
    """The parsed schema and version of a wire-format schema id: ours, else the registry's; BadAlert when
    neither knows it (RegistryUnavailable propagates: a retry, not a bad record)."""
    try:
        version = version_for_id(identifier)
        return parsed_schema(version), version
    except UnknownSchema as exc:
        fetched = registry_schema(identifier)
        if fetched is None:
            raise BadAlert(str(exc)) from None
        return fetched


def _decode_wire(value: bytes) -> DecodedAlert:
    if len(value) < _HEADER.size:
        raise BadAlert(f"truncated wire-format header: {len(value)} bytes, need {_HEADER.size}")
    _, identifier = _HEADER.unpack_from(value)
    schema, version = _schema_of(identifier)
    body = io.BytesIO(value)
    body.seek(_HEADER.size)
    try:
        alert = fastavro.schemaless_reader(body, schema, None)
    except EOFError:
        raise BadAlert(f"truncated Avro body for schema {version} ({len(value)} bytes)") from None
    except Exception as exc:  # fastavro raises many types on corrupt input
        raise BadAlert(f"corrupt Avro body for schema {version}: {type(exc).__name__}: {exc}") from None
    if body.tell() != len(value):
        raise BadAlert(
            f"{len(value) - body.tell()} trailing bytes after the Avro body: not a schema {version} alert"
        )
    if not isinstance(alert, dict):
        raise BadAlert(f"Avro body for schema {version} did not decode to a record")
    tail = _encoded_cutouts(schema, alert)
    prefix = value[: len(value) - len(tail)] if tail is not None and value.endswith(tail) else None
    return DecodedAlert(alert, version, prefix)


def _zigzag(number: int) -> bytes:
    """Avro's encoding of a long: zig-zag, then a little-endian base-128 varint."""
    n = (number << 1) ^ (number >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _encoded_cutouts(schema: Any, alert: dict[str, Any]) -> bytes | None:
    """The Avro bytes of the record's trailing cutout fields (unions of null and bytes), as they were
    encoded: the record ends with them (every Rubin schema so far), so the value minus these bytes is
    the record without them. None when the schema does not end that way."""
    fields = schema.get("fields", []) if isinstance(schema, dict) else []
    tail = []
    for field in reversed(fields):
        if not field["name"].startswith("cutout"):
            break
        tail.append(field)
    if not tail:
        return b""
    out = bytearray()
    for field in reversed(tail):
        branches = field["type"] if isinstance(field["type"], list) else None
        value = alert.get(field["name"])
        if branches is None or "null" not in branches or "bytes" not in branches:
            return None
        if value is None:
            out += _zigzag(branches.index("null"))
        elif isinstance(value, bytes):
            out += _zigzag(branches.index("bytes")) + _zigzag(len(value)) + value
        else:
            return None
    return bytes(out)


@cache
def _archive_schema(identifier: int) -> tuple[Any, str, tuple[str, ...]]:
    """For a schema id: its record minus the trailing cutout fields, its version, the cutout names."""
    schema, version = _schema_of(identifier)
    fields = list(schema["fields"])
    cutouts: list[str] = []
    while fields and fields[-1]["name"].startswith("cutout"):
        cutouts.insert(0, fields.pop()["name"])
    return {**schema, "fields": fields}, version, tuple(cutouts)


def decode_archived(value: bytes) -> DecodedAlert:
    """Read back :attr:`DecodedAlert.without_cutouts` (the alert with its cutouts null); raises :class:`BadAlert`."""
    if len(value) < _HEADER.size or value[0] != WIRE_MAGIC:
        raise BadAlert("not a wire-format alert")
    _, identifier = _HEADER.unpack_from(value)
    schema, version, cutouts = _archive_schema(identifier)
    body = io.BytesIO(value)
    body.seek(_HEADER.size)
    try:
        alert = fastavro.schemaless_reader(body, schema, None)
    except Exception as exc:  # fastavro raises many types on corrupt input
        raise BadAlert(f"corrupt archived alert for schema {version}: {type(exc).__name__}: {exc}") from None
    if body.tell() != len(value) or not isinstance(alert, dict):
        raise BadAlert(f"not an archived schema {version} alert")
    alert.update(dict.fromkeys(cutouts))
    return DecodedAlert(alert, version)


def _decode_container(value: bytes) -> DecodedAlert:
    try:
        reader = fastavro.reader(io.BytesIO(value))
        alert = next(iter(reader))
    except StopIteration:
        raise BadAlert("Avro container file holds no record") from None
    except Exception as exc:
        raise BadAlert(f"corrupt Avro container file: {type(exc).__name__}: {exc}") from None
    if not isinstance(alert, dict):
        raise BadAlert(f"Avro container file's first record is a {_avro_kind(alert)}, not an alert record")
    schema = reader.writer_schema if isinstance(reader.writer_schema, dict) else {}
    name = str(schema.get("namespace") or schema.get("name") or "")  # "lsst.v10_0" or "lsst.v10_0.alert"
    version = name.removeprefix("lsst.v").split(".")[0].replace("_", ".") if name.startswith("lsst.v") else ""
    if version not in SCHEMA_VERSIONS:
        version = _infer_json_version(alert)
    return DecodedAlert(alert, version)


def _avro_kind(value: Any) -> str:
    return {str: "string", int: "long", float: "double", bool: "boolean", bytes: "bytes", list: "array",
            type(None): "null"}.get(type(value), type(value).__name__)


def _bounded_int(text: str) -> int:
    """``json``'s integer hook: refuse a long integer before ``int()`` spends time on it (or raises)."""
    if len(text) - text.startswith("-") > MAX_JSON_INT_DIGITS:
        raise BadAlert(f"a JSON integer of {len(text) - text.startswith('-')} digits: at most "
                       f"{MAX_JSON_INT_DIGITS} are accepted (every 64-bit integer fits)")
    return int(text)


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """True when containers nest more than ``limit`` deep (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _decode_json(value: bytes) -> DecodedAlert:
    too_deep = f"JSON nested more than {MAX_JSON_DEPTH} levels deep: not an alert (an alert is nested 4 deep)"
    try:
        alert = json.loads(value, parse_int=_bounded_int)
    except RecursionError:
        raise BadAlert(too_deep) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadAlert(f"not valid JSON: {exc}") from None
    if not isinstance(alert, dict):
        raise BadAlert("JSON alert is not an object")
    if _nested_deeper_than(alert, MAX_JSON_DEPTH):
        raise BadAlert(too_deep)
    if "diaObject" not in alert:
        raise BadAlert("missing diaObject: a JSON alert needs the key (null for a solar-system alert)")
    alert.setdefault("prvDiaSources", None)
    alert.setdefault("prvDiaForcedSources", None)
    return DecodedAlert(alert, _infer_json_version(alert))


def _infer_json_version(alert: dict[str, Any]) -> str:
    """JSON carries no schema id: 11.1 when 11.1-only diaSource fields are present, else 11.0."""
    source = alert.get("diaSource")
    if isinstance(source, dict) and _V11_1_ONLY & source.keys():
        return LATEST_VERSION
    return "11.0"


def _check_shape(alert: dict[str, Any]) -> None:
    """What the broker relies on, checked once so features and stores never meet a half alert."""
    if "diaObject" not in alert:
        raise BadAlert("missing diaObject")
    source = alert.get("diaSource")
    if not isinstance(source, dict):
        raise BadAlert("missing diaSource: every alert has its triggering detection")
    if not is_number(source.get("midpointMjdTai")) or not math.isfinite(source["midpointMjdTai"]):
        raise BadAlert("diaSource.midpointMjdTai is missing or not a finite number")
    obj = alert["diaObject"]
    if obj is None:
        return
    if not isinstance(obj, dict):
        raise BadAlert("diaObject is not a record")
    if not is_integer(obj.get("diaObjectId")):
        raise BadAlert("diaObject.diaObjectId is missing or not an integer")
    for name in ("ra", "dec"):
        if not is_number(obj.get(name)):
            raise BadAlert(f"diaObject.{name} is missing or not a number")
    for name in ("prvDiaSources", "prvDiaForcedSources"):
        history = alert.get(name)
        if history is not None and not (isinstance(history, list) and all(isinstance(s, dict) for s in history)):
            raise BadAlert(f"{name} is not a list of records")
    _check_bounds(alert, source, obj)


def _check_bounds(alert: dict[str, Any], source: dict[str, Any], obj: dict[str, Any]) -> None:
    """Ids that fit 64 bits, times within the accepted MJD range (a non-finite history time is
    unknown: that point is left out of the features)."""
    problems = [
        id_problem("diaObject.diaObjectId", obj["diaObjectId"], positive=True),
        None if alert.get("diaSourceId") is None else id_problem("diaSourceId", alert["diaSourceId"]),
        None if source.get("diaSourceId") is None else id_problem("diaSource.diaSourceId", source["diaSourceId"]),
        mjd_problem("diaSource.midpointMjdTai", source["midpointMjdTai"], finite=True),
        *(mjd_problem(f"diaObject.{name}", obj.get(name), optional=True) for name in _DIA_OBJECT_TIMES),
    ]
    for name in ("prvDiaSources", "prvDiaForcedSources"):
        for index, point in enumerate(alert.get(name) or ()):
            mjd, source_id = point.get("midpointMjdTai"), point.get("diaSourceId")
            # fast path for the usual case; the named checks run (and build messages) only off it
            if not (type(mjd) is float and MJD_MIN <= mjd <= MJD_MAX):
                problems.append(mjd_problem(f"{name}[{index}].midpointMjdTai", mjd))
            if source_id is not None and not (type(source_id) is int and INT64_MIN <= source_id <= INT64_MAX):
                problems.append(id_problem(f"{name}[{index}].diaSourceId", source_id))
    reasons = [p for p in problems if p]
    if reasons:
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise BadAlert(reasons[0] + more)
