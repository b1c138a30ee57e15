"""One alert, prepared once for every feature group: detections and forced points in time order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skystream.features.columns import BANDS


@dataclass(frozen=True)
class Lightcurve:
    alert: dict[str, Any]
    dia_object: dict[str, Any]
    trigger: dict[str, Any]  # the alert's diaSource
    detections: list[dict[str, Any]]  # diaSource + prvDiaSources, oldest first
    forced: list[dict[str, Any]]  # prvDiaForcedSources, oldest first

    @classmethod
    def from_alert(cls, alert: dict[str, Any]) -> Lightcurve:
        trigger = alert["diaSource"]
        detections = sorted([trigger, *(alert.get("prvDiaSources") or ())], key=_mjd)
        forced = sorted(alert.get("prvDiaForcedSources") or (), key=_mjd)
        return cls(alert, alert.get("diaObject") or {}, trigger, detections, forced)

    @property
    def last_mjd(self) -> float:
        return self.detections[-1]["midpointMjdTai"]

    def by_band(self, points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {b: [] for b in BANDS}
        for point in points:
            band = point.get("band")
            if band in grouped:
                grouped[band].append(point)
        return grouped


def _mjd(point: dict[str, Any]) -> float:
    return point["midpointMjdTai"]
