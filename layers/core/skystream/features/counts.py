"""Counts and reliability summaries over the detections the alert carries (12 months of history)."""

from __future__ import annotations

import statistics
from typing import Any

from skystream.features.columns import BANDS
from skystream.features.inputs import Lightcurve

GOOD_RELIABILITY = 0.5


def counts_features(lc: Lightcurve) -> dict[str, Any]:
    reliabilities = [r for s in lc.detections if (r := s.get("reliability")) is not None]
    positive = [s for s in lc.detections if (s.get("psfFlux") or 0.0) > 0.0]
    row: dict[str, Any] = {
        "medianR": statistics.median(reliabilities) if reliabilities else None,
        "latestR": lc.trigger.get("reliability"),
        # NULL, not 0, when no detection carries a reliability: "unknown" is not "none good".
        "nSourcesGood": sum(r > GOOD_RELIABILITY for r in reliabilities) if reliabilities else None,
        "nPosDiaSources": len(positive),
        "nPosDiaSourcesNights": len({int(s["midpointMjdTai"] + 0.5) for s in positive}),
    }
    per_band = {b: 0 for b in BANDS}
    for source in lc.detections:
        band = source.get("band")
        if band in per_band:
            per_band[band] += 1
    row |= {f"n{b}Sources": n for b, n in per_band.items()}
    first_seen = lc.dia_object.get("firstDiaSourceMjdTai")  # may predate the 12 months the alert carries
    oldest_carried = lc.detections[0]["midpointMjdTai"]
    row["firstDiaSourceMjdTai"] = min(first_seen, oldest_carried) if first_seen is not None else oldest_carried
    row["lastDiaSourceMjdTai"] = lc.last_mjd
    return row
