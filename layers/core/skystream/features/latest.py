"""The newest detection per band, and the triggering detection's flux."""

from __future__ import annotations

from typing import Any

from skystream.features.columns import BANDS
from skystream.features.inputs import Lightcurve


def latest_features(lc: Lightcurve) -> dict[str, Any]:
    row: dict[str, Any] = {}
    newest: dict[str, dict[str, Any]] = {}
    for source in lc.detections:  # oldest first, so the last one seen per band wins
        band = source.get("band")
        if band in BANDS:
            newest[band] = source
    for band in BANDS:
        source = newest.get(band)
        row[f"{band}_psfFlux"] = source.get("psfFlux") if source else None
        row[f"{band}_latestMJD"] = source["midpointMjdTai"] if source else None
    row["latest_psfFlux"] = lc.trigger.get("psfFlux")
    return row
