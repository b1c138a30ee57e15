"""The full alerts (no cutouts), in S3: one object per ingest batch, read back one alert at a time.

``kafka_full`` outputs after the fact (a filter saved later, an annotation trigger, a run
now) need an object's whole alert; DynamoDB's 400 KB item limit is too small for 12 months
of history, S3 is not. Writing one S3 object per alert cost one PUT per alert (about a third
of the broker's bill at Rubin's rate), so ingest writes **one object per batch**:

- the object is the batch's alerts one after the other, each a separate gzip member, so one
  ranged GET of a member's bytes reads one alert. A member holds the alert as it came, in the
  Confluent wire format, minus its trailing cutouts (``alerts.wire.DecodedAlert.without_cutouts``;
  read back with ``alerts.wire.decode_archived``): no re-encoding at ingest, and half the bytes
  of the same alert as gzip'd JSON (measured: 4.1 against 7.8 KB at 5 detections, 11 against
  26 KB at 100), at a third of the compression time. An alert that came as JSON is kept as one
  JSON line ``{"schema_version": ..., "alert": <the full alert>}``. The first byte of a member's
  content tells which (0x00 or ``{``); either reads back as the full alert users get;
- an alert's :class:`~skystream.domain.objects.AlertPointer` (key, offset, length) goes with
  its objects item and its enriched record;
- the key is the SHA-256 of the body (``alerts/batches/<sha256>.jsonl.gz``) and each member is
  gzip'd with a fixed mtime, so the same batch always makes the same bytes under the same key:
  a retried batch overwrites its own object with identical content and never leaves a second
  copy a reader could find (a batch the event source re-polls with other records makes another
  object; every objects item then points into one of them, and the other is never read).

Reads group pointers by object and coalesce nearby ranges (:data:`MAX_GAP`), so the alerts of
one batch come back in one GET per object, not one per alert; objects are read in parallel.
A pointer with ``length == 0`` is a whole object: the one-object-per-alert layout of objects
stored before batching (``alerts/latest/<diaObjectId>.json.gz``, the same member format).
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from skystream.alerts.lightcurve import full_alert
from skystream.alerts.wire import WIRE_MAGIC, decode_archived
from skystream.aws import client
from skystream.config import settings
from skystream.domain.objects import AlertPointer, AlertToArchive

BATCH_PREFIX = "alerts/batches/"
GZIP_LEVEL = 5
MAX_GAP = 256 * 1024
"""Unwanted bytes between two wanted ranges of one object that are read rather than paying a second GET."""
MAX_SPAN = 32 * 1024 * 1024
"""Most bytes one coalesced ranged GET reads."""
READ_WORKERS = 8
_MISSING = frozenset({"NoSuchKey", "404", "InvalidRange", "416"})
log = Logger(child=True)

FullAlert = tuple[dict[str, Any], str]  # (the full alert, its schema version)


def legacy_key(dia_object_id: int) -> str:
    """Where the one-object-per-alert layout kept an object's latest full alert."""
    return f"alerts/latest/{int(dia_object_id)}.json.gz"


def legacy_pointer(dia_object_id: int) -> AlertPointer:
    return AlertPointer(key=legacy_key(dia_object_id))


def _member(entry: AlertToArchive) -> bytes:
    if entry.wire is not None:
        content = entry.wire
    else:
        content = orjson.dumps({"schema_version": entry.schema_version, "alert": entry.full},
                               default=_bytes_as_none) + b"\n"
    return gzip.compress(content, compresslevel=GZIP_LEVEL, mtime=0)


def _bytes_as_none(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return None  # cutouts never travel
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class PackedBatch:
    """One batch's alerts as the S3 object to write, and where each one is in it (entry order)."""

    key: str
    body: bytes
    pointers: list[AlertPointer]


def pack_alerts(alerts: Sequence[AlertToArchive]) -> PackedBatch:
    """The object for ``alerts`` (pure: the same alerts always give the same key and bytes)."""
    members = [_member(entry) for entry in alerts]
    body = b"".join(members)
    key = f"{BATCH_PREFIX}{hashlib.sha256(body).hexdigest()}.jsonl.gz"
    pointers: list[AlertPointer] = []
    offset = 0
    for member in members:
        pointers.append(AlertPointer(key=key, offset=offset, length=len(member)))
        offset += len(member)
    return PackedBatch(key=key, body=body, pointers=pointers)


def unpack_member(data: bytes) -> FullAlert:
    """One member's bytes -> (full alert, schema version), non-finite numbers as null whichever the form;
    raises ValueError when they are not one."""
    try:
        content = gzip.decompress(data)
        if content[:1] == bytes([WIRE_MAGIC]):
            decoded = decode_archived(content)  # BadAlert is a ValueError
            return orjson.loads(orjson.dumps(full_alert(decoded.alert))), decoded.schema_version
        body = orjson.loads(content)
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
        raise ValueError(f"not an archived alert: {type(exc).__name__}: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("alert"), dict):
        raise ValueError("not an archived alert: no 'alert' object")
    return body["alert"], str(body.get("schema_version") or "")


@dataclass
class _Span:
    """One GET: a byte range of one object covering one or more wanted pointers."""

    key: str
    start: int
    end: int  # exclusive; 0 with a whole-object pointer
    pointers: list[AlertPointer]


def coalesce(pointers: Iterable[AlertPointer], *, max_gap: int = MAX_GAP, max_span: int = MAX_SPAN) -> list[_Span]:
    """The GETs that read ``pointers``: per object, ranges closer than ``max_gap`` merged (up to ``max_span``)."""
    by_key: dict[str, list[AlertPointer]] = {}
    for pointer in dict.fromkeys(pointers):
        by_key.setdefault(pointer.key, []).append(pointer)
    spans: list[_Span] = []
    for key, wanted in by_key.items():
        if any(p.whole_object for p in wanted):
            spans.append(_Span(key, 0, 0, wanted))
            continue
        wanted.sort(key=lambda p: p.offset)
        current: _Span | None = None
        for p in wanted:
            end = p.offset + p.length
            if current is not None and p.offset - current.end <= max_gap and end - current.start <= max_span:
                current.end = max(current.end, end)
                current.pointers.append(p)
            else:
                current = _Span(key, p.offset, end, [p])
                spans.append(current)
    return spans


class AlertArchive:
    """The archive bucket (name from settings unless given)."""

    def __init__(self, bucket: str | None = None):
        self.bucket = bucket or settings().alerts_bucket
        self._s3 = client("s3")

    # writes -------------------------------------------------------------------------
    def put_batch(self, alerts: Sequence[AlertToArchive]) -> list[AlertPointer]:
        """Write ``alerts`` as one object (one PUT); returns each alert's pointer, in order."""
        if not alerts:
            return []
        packed = pack_alerts(alerts)
        self._s3.put_object(Bucket=self.bucket, Key=packed.key, Body=packed.body, ContentType="application/gzip",
                            Metadata={"alerts": str(len(alerts))})
        return packed.pointers

    # reads --------------------------------------------------------------------------
    def get(self, pointer: AlertPointer) -> FullAlert | None:
        return self.get_many([pointer]).get(pointer)

    def get_many(self, pointers: Iterable[AlertPointer]) -> dict[AlertPointer, FullAlert]:
        """Every archived alert of ``pointers`` that exists (missing ones are absent), one GET per span."""
        spans = coalesce(pointers)
        if len(spans) <= 1:
            results = [self._read(span) for span in spans]
        else:
            with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(spans))) as pool:
                results = list(pool.map(self._read, spans))
        return {pointer: alert for found in results for pointer, alert in found.items()}

    def _read(self, span: _Span) -> dict[AlertPointer, FullAlert]:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": span.key}
        if span.end:
            request["Range"] = f"bytes={span.start}-{span.end - 1}"
        try:
            data = self._s3.get_object(**request)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return {}
            raise
        found: dict[AlertPointer, FullAlert] = {}
        for pointer in span.pointers:
            member = data if pointer.whole_object else data[pointer.offset - span.start:
                                                            pointer.offset - span.start + pointer.length]
            try:
                found[pointer] = unpack_member(member)
            except ValueError as exc:
                log.warning("archived alert unreadable", extra={"key": pointer.key, "offset": pointer.offset,
                                                                "length": pointer.length, "error": str(exc)})
        return found
