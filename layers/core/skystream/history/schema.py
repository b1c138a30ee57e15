"""The history tables: names, columns, file layout on S3, and the derived keys of a row.

Three tables, partitioned by observing night (:func:`skystream.domain.objects.night_of`, the
MJD rounded at noon UTC) in Hive layout, so Athena (partition projection) and DuckDB
(``hive_partitioning``) both prune by night from the key alone::

    s3://{bucket}/{HISTORY_PREFIX}/{table}/night={night}/{file}.parquet

- ``objects_history``: one row per alert: the ``objects`` row as ingest computed it for that alert
  (exactly ``OBJECT_COLUMNS``), plus :data:`ALERT_COLUMNS` (which alert, when, and the sky pixel the rows
  of a file are sorted by, so a cone reads few row groups).
- ``detections``: one row per alert: the triggering diaSource (:data:`DETECTION_COLUMNS`).
- ``forced_photometry``: the alert's forced sources newer than the object's previous detection
  (what earlier alerts could not carry), :data:`FORCED_COLUMNS`.

Readers deduplicate by each table's :data:`HistoryTable.unique_key` (a redelivered batch may be written
twice; compaction may briefly leave a small file beside the file that replaces it).
"""

from __future__ import annotations

from dataclasses import dataclass

from skystream.features.columns import OBJECT_COLUMNS

HISTORY_PREFIX = "history"


@dataclass(frozen=True)
class HistoryColumn:
    name: str
    sql_type: str  # BIGINT | INTEGER | DOUBLE | TEXT, as in skystream.features.columns
    description: str


@dataclass(frozen=True)
class HistoryTable:
    name: str
    description: str
    columns: tuple[HistoryColumn, ...]
    unique_key: tuple[str, ...]  # what identifies a row: readers keep one row per key
    sort_key: tuple[str, ...]  # the order of rows inside each file

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def prefix(self) -> str:
        """The key prefix of every file of this table (no bucket, ends with '/')."""
        return f"{HISTORY_PREFIX}/{self.name}/"

    def night_prefix(self, night: int) -> str:
        return f"{self.prefix()}night={night}/"


ALERT_COLUMNS: tuple[HistoryColumn, ...] = (
    HistoryColumn("diaSourceId", "BIGINT", "The alert's triggering diaSource"),
    HistoryColumn("alertMjdTai", "DOUBLE", "midpointMjdTai of the triggering diaSource: the alert's time"),
    HistoryColumn("skyPixel", "BIGINT", "HEALPix nested index of (ra, decl) at depth 29 (skystream.domain.sky.pixel_of): "
                  "the sort key inside a file"),
)

OBJECTS_HISTORY = HistoryTable(
    "objects_history",
    "One row per alert: the objects row ingest computed for it, when, and where",
    tuple(HistoryColumn(c.name, c.sql_type, c.description) for c in OBJECT_COLUMNS) + ALERT_COLUMNS,
    unique_key=("diaSourceId",),
    sort_key=("skyPixel", "diaObjectId", "alertMjdTai"),
)

MEASUREMENT_COLUMNS: tuple[HistoryColumn, ...] = (
    HistoryColumn("visit", "BIGINT", "Visit of the exposure"),
    HistoryColumn("detector", "INTEGER", "Detector of the exposure"),
    HistoryColumn("midpointMjdTai", "DOUBLE", "Mid-exposure time, MJD TAI"),
    HistoryColumn("band", "TEXT", "Filter band (u, g, r, i, z, y)"),
    HistoryColumn("ra", "DOUBLE", "Right ascension, degrees"),
    HistoryColumn("dec", "DOUBLE", "Declination, degrees"),
    HistoryColumn("psfFlux", "DOUBLE", "PSF flux on the difference image, nJy"),
    HistoryColumn("psfFluxErr", "DOUBLE", "Uncertainty of psfFlux, nJy"),
    HistoryColumn("scienceFlux", "DOUBLE", "PSF flux on the science image, nJy"),
    HistoryColumn("scienceFluxErr", "DOUBLE", "Uncertainty of scienceFlux, nJy"),
)
"""What a detection and a forced measurement both say: when, where, in which band, how bright."""

DETECTION_COLUMNS: tuple[HistoryColumn, ...] = (
    HistoryColumn("diaSourceId", "BIGINT", "Rubin DIA source identifier"),
    HistoryColumn("diaObjectId", "BIGINT", "The object the source belongs to"),
    *MEASUREMENT_COLUMNS,
    HistoryColumn("snr", "DOUBLE", "Signal-to-noise of the detection"),
    HistoryColumn("reliability", "DOUBLE", "Real/bogus reliability score"),
    HistoryColumn("skyPixel", "BIGINT", "HEALPix nested index of (ra, dec) at depth 29: the sort key inside a file"),
)

DETECTIONS = HistoryTable(
    "detections",
    "One row per alert: its triggering diaSource",
    DETECTION_COLUMNS,
    unique_key=("diaSourceId",),
    sort_key=("skyPixel", "diaObjectId", "midpointMjdTai"),
)

FORCED_COLUMNS: tuple[HistoryColumn, ...] = (
    HistoryColumn("diaForcedSourceId", "BIGINT", "Rubin forced source identifier"),
    HistoryColumn("diaObjectId", "BIGINT", "The object measured"),
    *MEASUREMENT_COLUMNS,
)

FORCED_PHOTOMETRY = HistoryTable(
    "forced_photometry",
    "Forced photometry each alert brought that earlier alerts of its object could not have carried",
    FORCED_COLUMNS,
    unique_key=("diaForcedSourceId",),
    sort_key=("diaObjectId", "midpointMjdTai"),
)

HISTORY_TABLES: dict[str, HistoryTable] = {t.name: t for t in (OBJECTS_HISTORY, DETECTIONS, FORCED_PHOTOMETRY)}
