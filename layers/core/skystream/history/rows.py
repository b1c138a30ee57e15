"""The history rows one alert makes: its objects row, its detection, the forced photometry it brought.

Pure: the writer (``services.history_writer``) hands in the objects row ingest computed and the full
alert read back from the archive; this module says which values go in which table and which night.

- every row holds exactly its table's columns (``schema.HISTORY_TABLES``), missing ones as None;
- NaN and infinities are None (Parquet could hold them, but SQL engines disagree on them and the rest of
  skystream already reads a non-finite number as "unknown": ``domain.bounds.finite_or_none``);
- an integer column holds an int: a float with an integral value (JSON ``3.0``) becomes ``3``, any other
  non-integer (``3.5``, text) None, so one odd value cannot make the Parquet writer refuse a whole batch;
- the forced rows are the alert's forced sources newer than the object's newest earlier detection
  (:func:`new_forced`): what no earlier alert of the object can have carried.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skystream.domain.objects import night_of
from skystream.domain.sky import is_position, pixel_of
from skystream.history.schema import DETECTIONS, FORCED_PHOTOMETRY, OBJECTS_HISTORY, HistoryTable


class UnplaceableAlert(ValueError):
    """An alert the history cannot hold (no triggering diaSource, or no time for it); ``str`` says why."""


_INTEGER_TYPES = frozenset({"BIGINT", "INTEGER"})


def _typed(value: Any, sql_type: str) -> Any:
    """``value`` as its column holds it (see the module docstring): None when it cannot be."""
    if value is None:
        return None
    if sql_type in _INTEGER_TYPES:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        return None
    if sql_type == "DOUBLE":
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, int | float):
            value = float(value)
            return value if math.isfinite(value) else None
        return None
    return value if isinstance(value, str) else None  # TEXT


def table_row(table: HistoryTable, values: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly ``table``'s columns, from ``values``, typed (missing as None)."""
    return {c.name: _typed(values.get(c.name), c.sql_type) for c in table.columns}


def sky_pixel(ra: Any, decl: Any) -> int | None:
    """``domain.sky.pixel_of`` of a position, None when it is not one (``domain.sky.is_position``)."""
    return pixel_of(float(ra), float(decl)) if is_position(ra, decl) else None


def _mjd(point: Mapping[str, Any]) -> float | None:
    value = point.get("midpointMjdTai")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _newest_time(points: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    timed = [p for p in points if _mjd(p) is not None]
    return max(timed, key=lambda p: _mjd(p) or 0.0) if timed else None


def alert_parts(alert: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(the triggering diaSource, the other detections, the forced sources) of an alert in either form.

    The Rubin form names its trigger (``diaSource``, ``prvDiaSources``, ``prvDiaForcedSources``). The full
    form users get and the archive gives back (``alerts.lightcurve.full_alert``: ``diaSourcesList`` and
    ``diaForcedSourcesList``, newest first) does not: its trigger is its newest detection, as ingest's
    ``lastDiaSourceMjdTai`` takes it. Raises :class:`UnplaceableAlert` for an alert with no detection.
    """
    if isinstance(alert.get("diaSource"), Mapping):
        return (alert["diaSource"], list(alert.get("prvDiaSources") or ()),
                list(alert.get("prvDiaForcedSources") or ()))
    sources = [p for p in alert.get("diaSourcesList") or () if isinstance(p, Mapping)]
    trigger = _newest_time(sources)
    if trigger is None:
        if sources:
            raise UnplaceableAlert("the alert's diaSource has no finite midpointMjdTai: its night is unknown")
        raise UnplaceableAlert("the full alert has no diaSource (neither diaSource nor diaSourcesList)")
    return trigger, [p for p in sources if p is not trigger], list(alert.get("diaForcedSourcesList") or ())


def new_forced(alert: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The alert's forced sources newer than the newest earlier detection of its object.

    "Earlier" means a detection other than the trigger, older than it. With none (a first detection),
    every forced source is new. A forced source without a time cannot be placed and is left out.
    """
    trigger, others, forced = alert_parts(alert)
    trigger_mjd = _mjd(trigger)
    earlier = [m for m in (_mjd(p) for p in others) if m is not None and (trigger_mjd is None or m < trigger_mjd)]
    after = max(earlier) if earlier else -math.inf
    return sorted((p for p in forced if (m := _mjd(p)) is not None and m > after), key=lambda p: _mjd(p) or 0.0)


@dataclass
class AlertRows:
    """The rows of one alert, and the night they belong to (of the alert's time)."""

    night: int
    objects_history: dict[str, Any]
    detection: dict[str, Any]
    forced: list[dict[str, Any]] = field(default_factory=list)


def alert_rows(objects_row: Mapping[str, Any], alert: Mapping[str, Any]) -> AlertRows:
    """The history rows of one alert; raises :class:`UnplaceableAlert` when it has no time or no diaSource."""
    source = alert_parts(alert)[0]
    mjd = _mjd(source)
    if mjd is None:
        raise UnplaceableAlert("the alert's diaSource has no finite midpointMjdTai: its night is unknown")
    objects = table_row(OBJECTS_HISTORY, {
        **objects_row, "diaSourceId": source.get("diaSourceId"), "alertMjdTai": mjd,
        "skyPixel": sky_pixel(objects_row.get("ra"), objects_row.get("decl")),
    })
    detection = table_row(DETECTIONS, {**source, "skyPixel": sky_pixel(source.get("ra"), source.get("dec"))})
    if detection["diaObjectId"] is None:
        detection["diaObjectId"] = objects["diaObjectId"]
    forced = [table_row(FORCED_PHOTOMETRY, p) for p in new_forced(alert)]
    return AlertRows(night_of(mjd), objects, detection, forced)


@dataclass
class BatchRows:
    """A batch's rows grouped as they are written: per (table, night), one file each."""

    by_file: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, rows: AlertRows) -> None:
        self._put(OBJECTS_HISTORY.name, rows.night, [rows.objects_history])
        self._put(DETECTIONS.name, rows.night, [rows.detection])
        if rows.forced:
            self._put(FORCED_PHOTOMETRY.name, rows.night, rows.forced)

    def _put(self, table: str, night: int, rows: Sequence[dict[str, Any]]) -> None:
        self.by_file.setdefault((table, night), []).extend(rows)

    def count(self, table: str) -> int:
        return sum(len(rows) for (name, _), rows in self.by_file.items() if name == table)
