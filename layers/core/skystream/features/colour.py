"""Colour from near-simultaneous pairs: two consecutive detections < 40 minutes apart in different bands.

``latestPair*`` is the newest such pair, ``penultimatePair*`` the one before it. Colour is
AB magnitude of the bluer band minus the redder (mag = 31.4 - 2.5 log10 flux[nJy]); a pair
with a non-positive flux has no colour and is not used. The temperature is the blackbody
whose AB colour at the bands' effective wavelengths matches, in kK (NULL when no
blackbody between 1 kK and 1000 kK gives that colour).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from skystream.features.columns import BANDS
from skystream.features.inputs import Lightcurve

PAIR_WINDOW_DAYS = 40.0 / (24 * 60)
# Effective wavelengths of the LSST filters, nanometres.
EFFECTIVE_WAVELENGTH_NM = {"u": 367.1, "g": 482.7, "r": 622.3, "i": 754.6, "z": 869.1, "y": 971.2}
_HC_OVER_K_NM_K = 1.438776877e7  # h c / k in nm K
_T_MIN_K, _T_MAX_K = 1_000.0, 1_000_000.0


def magnitude(flux_njy: float) -> float:
    return 31.4 - 2.5 * math.log10(flux_njy)


def blackbody_colour(blue: str, red: str, temperature_k: float) -> float:
    """AB colour (blue - red) of a blackbody: -2.5 log10 of the f_nu ratio."""
    lb, lr = EFFECTIVE_WAVELENGTH_NM[blue], EFFECTIVE_WAVELENGTH_NM[red]
    # f_nu ~ nu^3 / (exp(h nu / k T) - 1), nu = c / lambda
    ratio = (lr / lb) ** 3 * math.expm1(_HC_OVER_K_NM_K / (lr * temperature_k)) / math.expm1(
        _HC_OVER_K_NM_K / (lb * temperature_k)
    )
    return -2.5 * math.log10(ratio)


def colour_temperature_kk(blue: str, red: str, colour: float) -> float | None:
    """Invert :func:`blackbody_colour` by bisection on log T (the colour falls as T rises)."""
    hot, cold = blackbody_colour(blue, red, _T_MAX_K), blackbody_colour(blue, red, _T_MIN_K)
    if not hot <= colour <= cold:
        return None
    lo, hi = math.log(_T_MIN_K), math.log(_T_MAX_K)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if blackbody_colour(blue, red, math.exp(mid)) > colour:
            lo = mid  # too red: hotter
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi)) / 1000.0


def colour_pairs(lc: Lightcurve) -> list[dict[str, Any]]:
    """Every usable pair, oldest first (without temperatures)."""
    pairs = []
    points = [s for s in lc.detections if s.get("band") in EFFECTIVE_WAVELENGTH_NM]
    for a, b in itertools.pairwise(points):
        if a["band"] == b["band"] or b["midpointMjdTai"] - a["midpointMjdTai"] >= PAIR_WINDOW_DAYS:
            continue
        fa, fb = a.get("psfFlux"), b.get("psfFlux")
        if fa is None or fb is None or fa <= 0 or fb <= 0:
            continue
        blue, red = sorted((a, b), key=lambda s: BANDS.index(s["band"]))
        colour = magnitude(blue["psfFlux"]) - magnitude(red["psfFlux"])
        pairs.append(
            {
                "MJD": 0.5 * (a["midpointMjdTai"] + b["midpointMjdTai"]),
                "ColourMag": colour,
                "ColourBands": blue["band"] + red["band"],
            }
        )
    return pairs


def colour_features(lc: Lightcurve) -> dict[str, Any]:
    pairs = colour_pairs(lc)[-2:]
    for pair in pairs:  # the temperature (a bisection) only for the two pairs reported
        bands = pair["ColourBands"]
        pair["ColourTemp"] = colour_temperature_kk(bands[0], bands[1], pair["ColourMag"])
    row: dict[str, Any] = {}
    for which, index in (("latest", -1), ("penultimate", -2)):
        pair = pairs[index] if len(pairs) >= -index else None
        for part in ("MJD", "ColourMag", "ColourBands", "ColourTemp"):
            row[f"{which}Pair{part}"] = pair[part] if pair else None
    return row
