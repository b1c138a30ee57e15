"""Pydantic models at the annotation boundaries: the upload body and the event on topic ``annotations``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from skystream.domain.bounds import INT64_MAX
from skystream.domain.names import PrintableName

MAX_CLASSDICT_BYTES = 64_000
MAX_UPLOADS_PER_REQUEST = 50
"""One request is stored in one DynamoDB transaction (at most 100 writes: each upload's history item and
its latest item), which is what makes an upload all or nothing."""


class AnnotationUpload(BaseModel):
    """One annotation as a client sends it.

    Lasair's annotate call names two fields differently (``topic``, ``objectId``); those
    names are accepted too, so a Lasair client's payload needs no change.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    annotator: PrintableName = Field(min_length=1, max_length=64, validation_alias=AliasChoices("annotator", "topic"),
                           description="registered annotator name, owned by the caller (Lasair: topic)")
    diaObjectId: int = Field(gt=0, le=2**63 - 1, validation_alias=AliasChoices("diaObjectId", "objectId"),
                             description="Rubin diaObjectId, a JSON integer or a string of digits (Lasair: objectId)")
    classification: str = Field(min_length=1, max_length=80, description="short class label, e.g. SN")
    version: str = Field(default="", max_length=80, description="classifier version")
    explanation: str = Field(default="", max_length=4000, description="free text")
    classdict: dict[str, Any] = Field(default_factory=dict, description="a JSON object; filters use JSON_EXTRACT")
    url: str = Field(default="", max_length=2000, description="link to more detail")

    @field_validator("diaObjectId", mode="before")
    @classmethod
    def _integer_id(cls, value: Any) -> Any:
        """JSON true is not an id; a digit string is (JavaScript clients lose precision above 2**53)."""
        if isinstance(value, (bool, float)):
            raise ValueError("diaObjectId must be an integer, like 170032882292375568")
        return value

    @field_validator("classdict")
    @classmethod
    def _classdict_fits(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(json.dumps(value, allow_nan=False).encode())
        except ValueError as exc:
            raise ValueError("classdict must be plain JSON (no NaN or Infinity)") from exc
        if size > MAX_CLASSDICT_BYTES:
            raise ValueError(f"classdict is {size} bytes as JSON; the limit is {MAX_CLASSDICT_BYTES}")
        return value


class AnnotationEvent(BaseModel):
    """What goes on topic ``annotations`` for each accepted upload (keyed by diaObjectId).

    The event names what changed; the annotation handler reads the stored latest value,
    so an event retried or seen late never resurrects an older classification.
    """

    model_config = ConfigDict(extra="ignore")

    # bounded as every store needs (skystream.domain.bounds): 10**40 made the trigger fail its batch forever
    diaObjectId: int = Field(gt=0, le=INT64_MAX)
    annotator: str
    classification: str
    uploaded_us: int
    user_id: int | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, value: bytes) -> AnnotationEvent:
        return cls.model_validate_json(value)


@dataclass(frozen=True)
class AnnotationRecord:
    """One accepted upload, as stored. ``classdict`` is the parsed JSON object."""

    annotator: str
    dia_object_id: int
    classification: str
    version: str = ""
    explanation: str = ""
    classdict: dict[str, Any] = field(default_factory=dict)
    url: str = ""
    user_id: int | None = None
    uploaded_us: int = field(default_factory=lambda: time.time_ns() // 1000)

    @property
    def timestamp(self) -> str:
        """``YYYY-MM-DD HH:MM:SS`` UTC, the form Lasair's annotations.timestamp takes in SQL."""
        return datetime.fromtimestamp(self.uploaded_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")

    def row(self) -> dict[str, Any]:
        """The row filters and the objects endpoint see (``classdict`` as JSON text)."""
        return {
            "diaObjectId": self.dia_object_id,
            "annotator": self.annotator,
            "topic": self.annotator,  # Lasair's name for the annotator column
            "classification": self.classification,
            "version": self.version,
            "explanation": self.explanation,
            "classdict": json.dumps(self.classdict, separators=(",", ":"), allow_nan=False),
            "url": self.url,
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class Annotator:
    name: str
    owner: int
    active: bool = True
    description: str = ""
    created: str = ""
