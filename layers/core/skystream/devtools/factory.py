"""Hand-made alerts from a few numbers: for tests that need an exact, readable lightcurve.

``make_alert([(mjd, band, flux), ...])`` gives a schema-valid alert whose last point is the
triggering diaSource; every other field is a plausible constant or null. Unlike the
generator, nothing is random, so a test can work out the expected features by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skystream.alerts.schema_files import LATEST_VERSION
from skystream.devtools.generator import _template

# (mjd, band, psfFlux) or (mjd, band, psfFlux, psfFluxErr) or (mjd, band, psfFlux, psfFluxErr, reliability)
Point = tuple[Any, ...]


def _source(version: str, object_id: int, index: int, point: Point, ra: float, dec: float) -> dict[str, Any]:
    mjd, band, flux, *rest = point
    err = rest[0] if rest else 100.0
    reliability = rest[1] if len(rest) > 1 else 0.9
    out = dict(_template(version, "diaSource"))
    out.update({
        "diaSourceId": object_id * 1000 + index, "visit": 1000 + index, "detector": 1, "diaObjectId": object_id,
        "midpointMjdTai": float(mjd), "ra": ra, "dec": dec, "x": 10.0, "y": 10.0, "psfFlux": flux,
        "psfFluxErr": err, "reliability": reliability, "band": band, "timeProcessedMjdTai": float(mjd) + 0.01,
    })
    return out


def _forced(object_id: int, index: int, point: Point, ra: float, dec: float) -> dict[str, Any]:
    mjd, band, flux, *rest = point
    return {
        "diaForcedSourceId": object_id * 1000 + 500 + index, "diaObjectId": object_id, "ra": ra, "dec": dec,
        "visit": 5000 + index, "detector": 1, "psfFlux": flux, "psfFluxErr": rest[0] if rest else 100.0,
        "midpointMjdTai": float(mjd), "scienceFlux": None, "scienceFluxErr": None, "band": band,
        "timeProcessedMjdTai": float(mjd) + 0.01, "timeWithdrawnMjdTai": None,
    }


def make_alert(
    detections: Sequence[Point],
    forced: Sequence[Point] = (),
    *,
    object_id: int = 42,
    ra: float = 150.0,
    dec: float = 2.0,
    dia_object: dict[str, Any] | None = None,
    schema_version: str = LATEST_VERSION,
) -> dict[str, Any]:
    """An alert whose detections are ``detections`` (the newest one triggers it)."""
    if not detections:
        raise ValueError("an alert needs at least one detection")
    order = sorted(range(len(detections)), key=lambda i: detections[i][0])
    sources = [_source(schema_version, object_id, i, detections[i], ra, dec) for i in order]
    obj = dict(_template(schema_version, "diaObject"))
    obj.update({"diaObjectId": object_id, "validityStartMjdTai": sources[-1]["midpointMjdTai"], "ra": ra,
                "dec": dec, "nDiaSources": len(sources)})
    obj.update(dia_object or {})
    return {
        "diaSourceId": sources[-1]["diaSourceId"], "observation_reason": None, "target_name": None,
        "diaSource": sources[-1], "prvDiaSources": sources[:-1],
        "prvDiaForcedSources": [_forced(object_id, i, p, ra, dec) for i, p in enumerate(forced)],
        "diaObject": obj, "ssSource": None, "mpc_orbits": None,
        "cutoutDifference": None, "cutoutScience": None, "cutoutTemplate": None,
    }
