"""Jump scores: how far the last 10 days sit from the object's level 10-70 days earlier.

Per band with at least 5 baseline points in [last - 70, last - 10) days, the baseline is
their mean and sample standard deviation; each detection of the last 10 days scores
|flux - mean| / sd; the band's score is its maximum. ``jump1`` is the largest band
score and ``jump2`` the second. Baseline points are the forced photometry (which sees
the quiet object too) plus the detections, per band.
"""

from __future__ import annotations

import statistics
from typing import Any

from skystream.features.columns import BANDS
from skystream.features.inputs import Lightcurve

BASELINE_START_DAYS = 70.0
BASELINE_END_DAYS = 10.0
MIN_BASELINE_POINTS = 5


def band_jump_scores(lc: Lightcurve) -> dict[str, float]:
    last = lc.last_mjd
    lo, hi = last - BASELINE_START_DAYS, last - BASELINE_END_DAYS
    baseline: dict[str, list[float]] = {b: [] for b in BANDS}
    for point in (*lc.forced, *lc.detections):
        band, flux, t = point.get("band"), point.get("psfFlux"), point["midpointMjdTai"]
        if band in baseline and flux is not None and lo <= t < hi:
            baseline[band].append(flux)
    scores: dict[str, float] = {}
    for band, fluxes in baseline.items():
        if len(fluxes) < MIN_BASELINE_POINTS:
            continue
        mean, sd = statistics.fmean(fluxes), statistics.stdev(fluxes)
        if sd <= 0:
            continue
        recent = [
            abs(s["psfFlux"] - mean) / sd
            for s in lc.detections
            if s.get("band") == band and s.get("psfFlux") is not None and s["midpointMjdTai"] >= hi
        ]
        if recent:
            scores[band] = max(recent)
    return scores


def jump_features(lc: Lightcurve) -> dict[str, Any]:
    ranked = sorted(band_jump_scores(lc).values(), reverse=True)
    return {"jump1": ranked[0] if ranked else None, "jump2": ranked[1] if len(ranked) > 1 else None}
