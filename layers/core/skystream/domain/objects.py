"""An object as the stores keep it and as a filter batch sees it.

:class:`StoredObject` is what the objects table gives back (``skystream.storage.objects``);
:class:`ObjectContext` is one object in a filter batch: its features row, lite lightcurve
and, when at hand, its full alert (the matcher has it from the enriched record; the
annotation trigger and a reseed read it from the archive only for ``kafka_full`` output).
:class:`AlertPointer` says where an archived full alert is: one byte range of one S3 object
(``skystream.storage.archive``), kept with the objects item and carried by the enriched record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KEY_COLUMN = "diaObjectId"
"""The column that names an object: records are keyed by it and lightcurves attached by it."""


@dataclass(frozen=True)
class AlertPointer:
    """Where one archived full alert is: bytes ``offset`` to ``offset + length`` of the object at ``key``.

    The range is one self-contained gzip member, so one ranged GET reads the alert without the
    rest of its batch. ``length == 0`` names a whole object (the one-object-per-alert layout that
    came before batching, still read for objects stored then).
    """

    key: str
    offset: int = 0
    length: int = 0

    @property
    def whole_object(self) -> bool:
        return self.length == 0


@dataclass(frozen=True)
class AlertToArchive:
    """One alert as the archive takes it: the record as it came in the wire format minus its cutouts
    (``wire``: compact, no re-encoding), or, for alerts that came as JSON, the full alert (``full``)."""

    schema_version: str
    wire: bytes | None = None
    full: dict[str, Any] | None = None


@dataclass
class StoredObject:
    row: dict[str, Any]  # every OBJECT_COLUMNS key, None where NULL
    lite: dict[str, Any] | None  # None: not read (derive it from the archived full alert when needed)
    schema_version: str = ""
    dia_source_id: int | None = None
    updated: str = ""
    alert_pointer: AlertPointer | None = None  # where its latest full alert is archived

    @property
    def dia_object_id(self) -> int:
        return int(self.row[KEY_COLUMN])


@dataclass
class ObjectContext:
    """One object as a filter batch sees it: its features row, lite lightcurve and (if at hand) full alert."""

    row: dict[str, Any]
    lite: dict[str, Any] | None  # None: not at hand; derived from the full alert (by pointer) when a record needs it
    full_alert: dict[str, Any] | None = None
    schema_version: str = ""
    alert_pointer: AlertPointer | None = None  # where the full alert is archived, when it is not at hand

    @property
    def dia_object_id(self) -> int:
        return int(self.row[KEY_COLUMN])

    @classmethod
    def from_stored(cls, stored: StoredObject) -> ObjectContext:
        """A stored object (row, lite if read, schema_version); its full alert (and lite) is read from the archive if needed."""
        return cls(row=dict(stored.row), lite=dict(stored.lite) if stored.lite is not None else None,
                   schema_version=str(getattr(stored, "schema_version", "") or ""),
                   alert_pointer=getattr(stored, "alert_pointer", None))


def night_of(mjd: float) -> int:
    """The observing night of a time: MJD rounded at noon UTC (Rubin observes around UTC midnight-ish).
    The objects table's by-night index and the history's partitions both use it."""
    return int(mjd + 0.5)


@dataclass(frozen=True)
class HistoryFile:
    """One Parquet file of a history table (``skystream.history.schema``), as the bucket lists it."""

    key: str
    night: int
    size: int  # bytes
    etag: str = ""
