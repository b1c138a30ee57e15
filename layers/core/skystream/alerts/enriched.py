"""The record ingest produces to ``alerts-enriched``: what the matcher needs, computed once.

JSON on the wire (what any consumer can debug): the ``objects`` row, the lite lightcurve
compressed (``lite_z``: zlib'd JSON, base64), and where the full alert is archived
(``alert_at``: the S3 key and byte range of one gzip member, see
:mod:`skystream.storage.archive`), not the full alert itself::

    {"objects": {...}, "lite_z": "eJy...", "alert_at": {"key": "alerts/batches/....jsonl.gz",
     "offset": 81234, "length": 8721}, "schema_version": "11.1"}

Measured (``benchmarks/ingest.py``, BENCHMARKS.md): 7.5 KB at 10 detections, 10.6 KB at 100,
29.7 KB at 300, where the record with the whole alert inline was 73, 321 and 922 KB. The matcher needs the full
alert only for ``kafka_full`` records, and reads those by pointer, batched per S3 object. NaN
and infinities, which real alerts do carry in float fields, are written as null: JSON has no
NaN, and "unknown" is what they mean. Encoded with orjson.

Reading one back (:meth:`EnrichedRecord.from_bytes`) checks its shape and raises
:class:`BadEnrichedRecord` with a reason for anything else, so the matcher can send that
one record to the dead-letter topic and go on with its batch. Records of the earlier shape
(``lite`` and the whole ``alert`` inline) are still read, so a topic holding both reads through.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, PrivateAttr

from skystream.domain.objects import AlertPointer

# alerts-enriched is internal; a record with the whole alert inline (the earlier shape) could be ~1 MB.
MAX_RECORD_BYTES = 4_000_000
MAX_LITE_BYTES = 16_000_000
"""Most bytes a ``lite_z`` may inflate to (a lite lightcurve of 12 months is under 1 MB): a bound
against a record that would inflate without end."""


class BadEnrichedRecord(ValueError):
    """An ``alerts-enriched`` value that is not an enriched record; ``reason`` says why."""

    @property
    def reason(self) -> str:
        return str(self)


class EnrichedRecord(BaseModel):
    model_config = ConfigDict(frozen=False, arbitrary_types_allowed=True)

    objects: dict[str, Any]  # the objects row: exactly OBJECT_COLUMNS
    lite: dict[str, Any]  # lite_lightcurve(alert)
    alert_pointer: AlertPointer | None = None  # where the full alert is archived
    alert: dict[str, Any] | None = None  # the full alert itself: only records of the earlier shape carry it
    schema_version: str
    _lite_z: str | None = PrivateAttr(default=None)  # the packed lite lightcurve, packed once

    def packed_lite(self) -> str:
        """``lite_z`` of this record (packed on first use, then kept: ingest sizes a record before sending it)."""
        if self._lite_z is None:
            self._lite_z = pack_lite(self.lite)
        return self._lite_z

    @property
    def dia_object_id(self) -> int:
        return int(self.objects["diaObjectId"])

    def to_bytes(self, pointer: AlertPointer | None = None) -> bytes:
        """The record as it goes to ``alerts-enriched``; ``pointer`` in place of :attr:`alert_pointer` if given
        (ingest sizes a record before its alert is archived, with a pointer longer than any real one)."""
        body: dict[str, Any] = {"objects": self.objects, "lite_z": self.packed_lite()}
        p = pointer or self.alert_pointer
        if p is not None:
            body["alert_at"] = {"key": p.key, "offset": p.offset, "length": p.length}
        if self.alert is not None:
            body["alert"] = self.alert
        body["schema_version"] = self.schema_version
        return orjson.dumps(body, default=_bytes_as_none)

    @classmethod
    def from_bytes(cls, value: bytes) -> EnrichedRecord:
        """Parse and check the shape (not the row's values: ``features.columns.row_problem`` does that)."""
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise BadEnrichedRecord(f"not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadEnrichedRecord(f"an enriched record is a JSON object, not {type(body).__name__}")
        if not isinstance(body.get("objects"), dict):
            raise BadEnrichedRecord("objects is missing or not a JSON object")
        lite = _lite(body)
        for name in ("diaSourcesList", "diaForcedSourcesList"):
            if not isinstance(lite.get(name, []), list):
                raise BadEnrichedRecord(f"lite.{name} is not a list")
        alert = body.get("alert")
        if alert is not None and not isinstance(alert, dict):
            raise BadEnrichedRecord("alert is not a JSON object")
        pointer = _pointer(body.get("alert_at"))
        if pointer is None and alert is None:
            raise BadEnrichedRecord("neither alert_at (where the full alert is archived) nor the alert itself")
        if not isinstance(body.get("schema_version", ""), str):
            raise BadEnrichedRecord("schema_version is not a string")
        return cls.model_construct(objects=body["objects"], lite=lite, alert_pointer=pointer, alert=alert,
                                   schema_version=body.get("schema_version", ""))


def pack_lite(lite: dict[str, Any]) -> str:
    """The lite lightcurve as ``lite_z``: zlib'd JSON (non-finite numbers as null), base64."""
    return base64.b64encode(zlib.compress(orjson.dumps(lite), 6)).decode("ascii")


def unpack_lite(text: str) -> Any:
    """``lite_z`` back to JSON values; raises BadEnrichedRecord for anything that is not one."""
    try:
        packed = base64.b64decode(text, validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_LITE_BYTES)
        if inflater.unconsumed_tail:
            raise BadEnrichedRecord(f"lite_z inflates past {MAX_LITE_BYTES} bytes")
        return orjson.loads(raw)
    except (binascii.Error, ValueError, zlib.error) as exc:  # JSONDecodeError is a ValueError
        if isinstance(exc, BadEnrichedRecord):
            raise
        raise BadEnrichedRecord(f"lite_z is not base64 zlib'd JSON: {type(exc).__name__}: {exc}") from None


def _lite(body: dict[str, Any]) -> dict[str, Any]:
    if "lite_z" in body:
        if not isinstance(body["lite_z"], str):
            raise BadEnrichedRecord("lite_z is not a string")
        lite = unpack_lite(body["lite_z"])
        if not isinstance(lite, dict):
            raise BadEnrichedRecord("lite_z does not hold a JSON object")
        return lite
    if "lite" not in body:
        raise BadEnrichedRecord("lite_z (the lite lightcurve) is missing")
    if not isinstance(body["lite"], dict):  # the earlier shape
        raise BadEnrichedRecord("lite is missing or not a JSON object")
    return body["lite"]


def _pointer(raw: Any) -> AlertPointer | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadEnrichedRecord("alert_at is not a JSON object")
    key, offset, length = raw.get("key"), raw.get("offset"), raw.get("length")
    if not isinstance(key, str) or not key:
        raise BadEnrichedRecord("alert_at.key is missing or not a string")
    for name, number in (("offset", offset), ("length", length)):
        if type(number) is not int or number < 0:
            raise BadEnrichedRecord(f"alert_at.{name} is not a non-negative integer")
    return AlertPointer(key=key, offset=offset, length=length)


def _bytes_as_none(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return None  # cutouts never travel; anything else binary is not ours to forward
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
