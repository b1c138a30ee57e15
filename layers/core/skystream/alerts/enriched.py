"""The record ingest produces to ``alerts-enriched``: what the matcher needs, computed once.

JSON on the wire (what Lasair users read, and what any consumer can debug). NaN and
infinities, which real alerts do carry in float fields, are written as null: JSON has
no NaN, and "unknown" is what they mean. Encoded with orjson (a 300 KB record in about
a millisecond; the standard library takes ten).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

# alerts-enriched is internal and compresses ~10x (JSON, mostly nulls): allow big records.
MAX_RECORD_BYTES = 4_000_000


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
        body = orjson.loads(value)
        return cls.model_construct(
            objects=body["objects"], lite=body["lite"], alert=body["alert"], schema_version=body["schema_version"]
        )


def _bytes_as_none(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return None  # cutouts never travel; anything else binary is not ours to forward
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
