"""The two lightcurve forms users receive: ``lite`` (a few fields per point) and ``full`` (no cutouts).

These are exactly the ``alert`` payloads of ``kafka_lite`` and ``kafka_full`` records
(DESIGN section 6, Lasair's record shapes): detections are the triggering diaSource
followed by prvDiaSources, newest first; forced photometry likewise newest first.
A number that is not finite (NaN, inf) is null in the lite form, as in every store; the
full form keeps the alert's values, and every writer of it (orjson) writes them as null.
"""

from __future__ import annotations

import math
from typing import Any

from skystream.domain.bounds import finite_or_none, pick_finite

LITE_SOURCE_FIELDS: tuple[str, ...] = ("psfFlux", "psfFluxErr", "midpointMjdTai", "band", "reliability")
LITE_FORCED_FIELDS: tuple[str, ...] = ("psfFlux", "psfFluxErr", "midpointMjdTai", "band")


def _newest_first(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first; a point of unknown (non-finite) time last, where it cannot mislead."""
    return sorted(points, key=_time_or_never, reverse=True)


def _time_or_never(point: dict[str, Any]) -> float:
    mjd = finite_or_none(point["midpointMjdTai"])
    return -math.inf if mjd is None else mjd


def detections(alert: dict[str, Any]) -> list[dict[str, Any]]:
    """diaSource + prvDiaSources, newest first (the triggering detection is normally the newest)."""
    return _newest_first([alert["diaSource"], *(alert.get("prvDiaSources") or ())])


def forced_sources(alert: dict[str, Any]) -> list[dict[str, Any]]:
    return _newest_first(list(alert.get("prvDiaForcedSources") or ()))


def lite_lightcurve(alert: dict[str, Any]) -> dict[str, Any]:
    return _lite(detections(alert), forced_sources(alert))


def full_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """The whole alert as users get it: no cutouts, sources merged newest first."""
    return _full(alert, detections(alert), forced_sources(alert))


def lite_and_full(alert: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both forms at once, merging and sorting the history once (ingest needs both per alert)."""
    sources, forced = detections(alert), forced_sources(alert)
    return _lite(sources, forced), _full(alert, sources, forced)


def lite_from_full(full: dict[str, Any]) -> dict[str, Any]:
    """The lite lightcurve of a full alert (as archived): the same as :func:`lite_lightcurve` of its alert.

    The objects table keeps no lite lightcurve; a stored object's is derived from its archived
    full alert when one is needed (a ``kafka_lite`` record after the fact, the API's object view).
    """
    return _lite(list(full.get("diaSourcesList") or ()), list(full.get("diaForcedSourcesList") or ()))


def _lite(sources: list[dict[str, Any]], forced: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "diaSourcesList": [pick_finite(s, LITE_SOURCE_FIELDS) for s in sources],
        "diaForcedSourcesList": [pick_finite(s, LITE_FORCED_FIELDS) for s in forced],
    }


def _full(alert: dict[str, Any], sources: list[dict[str, Any]], forced: list[dict[str, Any]]) -> dict[str, Any]:
    return {"diaObject": alert.get("diaObject"), "diaSourcesList": sources, "diaForcedSourcesList": forced}
