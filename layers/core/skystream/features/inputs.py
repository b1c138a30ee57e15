"""One alert, prepared once for every feature group: detections and forced points in time order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skystream.domain.bounds import finite_or_none, pick_finite


@dataclass(frozen=True)
class Lightcurve:
    alert: dict[str, Any]
    dia_object: dict[str, Any]
    trigger: dict[str, Any]  # the alert's diaSource
    detections: list[dict[str, Any]]  # diaSource + prvDiaSources, oldest first
    forced: list[dict[str, Any]]  # prvDiaForcedSources, oldest first

    @classmethod
    def from_alert(cls, alert: dict[str, Any]) -> Lightcurve:
        """Points reduced to the fields features read, NaN and infinities as None (real alerts
        carry NaN floats; a non-finite number is "unknown"); a point whose time is unknown
        cannot be placed and is left out."""
        trigger = _clean(alert["diaSource"])
        prv = [p for p in map(_clean, alert.get("prvDiaSources") or ()) if p["midpointMjdTai"] is not None]
        detections = sorted([trigger, *prv], key=_mjd)
        forced = sorted((p for p in map(_clean, alert.get("prvDiaForcedSources") or ())
                         if p["midpointMjdTai"] is not None), key=_mjd)
        obj = {k: finite_or_none(v) for k, v in (alert.get("diaObject") or {}).items()}
        return cls(alert, obj, trigger, detections, forced)

    @property
    def last_mjd(self) -> float:
        return self.detections[-1]["midpointMjdTai"]


FEATURE_FIELDS: tuple[str, ...] = ("midpointMjdTai", "band", "psfFlux", "psfFluxErr", "reliability")


def _clean(point: dict[str, Any]) -> dict[str, Any]:
    return pick_finite(point, FEATURE_FIELDS)


def _mjd(point: dict[str, Any]) -> float:
    return point["midpointMjdTai"]
