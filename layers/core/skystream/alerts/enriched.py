"""The record ingest produces to ``alerts-enriched``: what the matcher needs, computed once.

JSON on the wire (what Lasair users read, and what any consumer can debug). NaN and
infinities, which real alerts do carry in float fields, are written as null: JSON has
no NaN, and "unknown" is what they mean. Encoded with orjson (a 300 KB record in about
a millisecond; the standard library takes ten).

Reading one back (:meth:`EnrichedRecord.from_bytes`) checks its shape and raises
:class:`BadEnrichedRecord` with a reason for anything else, so the matcher can send that
one record to the dead-letter topic and go on with its batch.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

# alerts-enriched is internal and compresses ~10x (JSON, mostly nulls): allow big records.
MAX_RECORD_BYTES = 4_000_000


class BadEnrichedRecord(ValueError):
    """An ``alerts-enriched`` value that is not an enriched record; ``reason`` says why."""

    @property
    def reason(self) -> str:
        return str(self)


class EnrichedRecord(BaseModel):
    model_config = ConfigDict(frozen=False)

    objects: dict[str, Any]  # the objects row: exactly OBJECT_COLUMNS
    lite: dict[str, Any]  # lite_lightcurve(alert)
    alert: dict[str, Any]  # full_alert(alert): diaObject, diaSourcesList, diaForcedSourcesList
    schema_version: str

    @property
    def dia_object_id(self) -> int:
        return int(self.objects["diaObjectId"])

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {"objects": self.objects, "lite": self.lite, "alert": self.alert, "schema_version": self.schema_version},
            default=_bytes_as_none,
        )

    @classmethod
    def from_bytes(cls, value: bytes) -> EnrichedRecord:
        """Parse and check the shape (not the row's values: ``features.columns.row_problem`` does that)."""
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise BadEnrichedRecord(f"not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadEnrichedRecord(f"an enriched record is a JSON object, not {type(body).__name__}")
        for name in ("objects", "lite", "alert"):
            if not isinstance(body.get(name), dict):
                raise BadEnrichedRecord(f"{name} is missing or not a JSON object")
        for name in ("diaSourcesList", "diaForcedSourcesList"):
            if not isinstance(body["lite"].get(name, []), list):
                raise BadEnrichedRecord(f"lite.{name} is not a list")
        if not isinstance(body.get("schema_version", ""), str):
            raise BadEnrichedRecord("schema_version is not a string")
        return cls.model_construct(
            objects=body["objects"], lite=body["lite"], alert=body["alert"], schema_version=body.get("schema_version", "")
        )


def _bytes_as_none(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return None  # cutouts never travel; anything else binary is not ours to forward
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
