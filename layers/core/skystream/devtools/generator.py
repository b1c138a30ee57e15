"""Schema-valid synthetic Rubin alerts with plausible lightcurves, deterministic for a seed.

Real alerts cannot be downloaded here, so the demo, the tests and the benchmarks use
these. Each object gets a kind (supernova-like rise and decline, periodic variable,
stochastic AGN-like, flat persistent residual, bogus), a survey cadence over up to
12 months (a few visits on some nights, pairs in different bands ~20-35 minutes apart,
seasonal gaps), per-band noise from a 5-sigma depth, fluxes in nJy drawn with that
noise, and detections where S/N >= 5. The alert carries the newest detection as
``diaSource``, earlier ones as ``prvDiaSources``, forced photometry at every earlier
visit as ``prvDiaForcedSources``, and a ``diaObject`` summary computed from them.
Float fields are rounded to float32 so that an Avro round trip gives back equal dicts.
"""

from __future__ import annotations

import itertools
import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from skystream.alerts.schema_files import LATEST_VERSION, record_field_types, record_fields
from skystream.features.columns import BANDS

KINDS: tuple[str, ...] = ("supernova", "periodic", "agn", "flat", "bogus")
KIND_WEIGHTS: tuple[float, ...] = (0.3, 0.2, 0.2, 0.1, 0.2)
BAND_WEIGHTS: tuple[float, ...] = (0.06, 0.12, 0.22, 0.22, 0.2, 0.18)
_BAND_CUM = tuple(itertools.accumulate(BAND_WEIGHTS))
_OTHER_BANDS = {b: [o for o in BANDS if o != b] for b in BANDS}
# Single-visit 5-sigma depths (AB mag) -> flux sigma in nJy: 10**((31.4 - m5) / 2.5) / 5.
DEPTH_MAG = {"u": 23.7, "g": 24.8, "r": 24.4, "i": 23.9, "z": 23.3, "y": 22.5}
SIGMA_NJY = {b: 10 ** ((31.4 - m) / 2.5) / 5 for b, m in DEPTH_MAG.items()}
DETECTION_SNR = 5.0
DEFAULT_END_MJD = 61000.0  # 2025-11-22; fixed so that output does not depend on the clock
OBJECT_ID_BASE = 3_000_000_000_000


def _f32(values: list[float]) -> list[float]:
    return array("f", values).tolist()


@cache
def _float_fields(version: str, record: str) -> frozenset[str]:
    def is_float(t: Any) -> bool:
        return t == "float" or (isinstance(t, list) and "float" in t)

    return frozenset(n for n, t in record_field_types(version, record).items() if is_float(t))


@cache
def _template(version: str, record: str) -> dict[str, Any]:
    """Every field of ``record`` at None, except non-nullable ints (0) that we may leave unset."""
    template: dict[str, Any] = {}
    for name, kind in record_field_types(version, record).items():
        template[name] = 0 if kind == "int" else None
    return template


def _fill(version: str, record: str, values: dict[str, Any]) -> dict[str, Any]:
    out = dict(_template(version, record))
    floats = _float_fields(version, record)
    names = [k for k, v in values.items() if k in floats and v is not None]
    for name, value in zip(names, _f32([values[n] for n in names]), strict=True):
        values[name] = value
    out.update((k, v) for k, v in values.items() if k in out)
    return out


@dataclass
class _Visit:
    mjd: float
    band: str
    flux: float  # difference flux, nJy
    err: float
    template_flux: float
    reliability: float
    detected: bool = False
    f32: list[float] | None = None


@dataclass
class _Object:
    object_id: int
    kind: str
    ra: float
    dec: float
    visits: list[_Visit] = field(default_factory=list)


_LAMBDA_NM = {"u": 367.1, "g": 482.7, "r": 622.3, "i": 754.6, "z": 869.1, "y": 971.2}


@cache
def _band_factor_cached(band: str, temperature_dk: int) -> float:
    def fnu(nm: float) -> float:
        return (1 / nm) ** 3 / math.expm1(1.438776877e7 / (nm * temperature_dk * 100))

    return fnu(_LAMBDA_NM[band]) / fnu(_LAMBDA_NM["r"])


def _band_factor(band: str, temperature_kk: float) -> float:
    """Relative f_nu of a blackbody across bands, normalised at r (temperature to 0.1 kK)."""
    return _band_factor_cached(band, round(temperature_kk * 10))


def _schedule(rng: random.Random, end_mjd: float, span_days: float, min_visits: int,
              night_probability: float = 0.35) -> list[tuple[float, str]]:
    """Visits (mjd, band) ending exactly at ``end_mjd``: some nights, 1-3 visits, pairs in two bands."""
    visits: list[tuple[float, str]] = [(end_mjd, rng.choices(BANDS, cum_weights=_BAND_CUM)[0])]
    night = math.floor(end_mjd) - 1
    start = end_mjd - span_days
    while night > start or len(visits) < min_visits:
        if len(visits) >= min_visits and night < end_mjd - 365:
            break
        # a seasonal gap about six weeks long, half a year before the default end (MJD 61000)
        season = math.cos(2 * math.pi * ((night - 61000) % 365.25) / 365.25)
        if season > -0.93 and rng.random() < night_probability:
            t = night + 0.05 + rng.random() * 0.25  # local night, as a fraction of the MJD day
            first = rng.choices(BANDS, cum_weights=_BAND_CUM)[0]
            visits.append((t, first))
            if rng.random() < 0.6:  # a same-night pair in another band, 20-35 minutes later
                second = rng.choice(_OTHER_BANDS[first])
                visits.append((t + rng.uniform(20, 35) / 1440, second))
        night -= 1
    visits = [v for v in visits if v[0] <= end_mjd]
    visits.sort()
    return visits


def _model_flux(obj: _Object, params: dict[str, float], rng: random.Random, t: float, band: str) -> float:
    kind = obj.kind
    if kind == "supernova":
        t0, amp, rise, fall, temp = params["t0"], params["amp"], params["rise"], params["fall"], params["temp"]
        x = t - t0
        temp_now = max(4.0, temp - 0.08 * max(x, 0.0))  # cools after peak: reddens
        shape = math.exp(-x / fall) / (1 + math.exp(-x / rise)) if x > -30 * rise else 0.0
        return amp * shape * _band_factor(band, temp_now)
    if kind == "periodic":
        return params["amp"] * math.sin(2 * math.pi * t / params["period"] + params["phase"]) * _band_factor(band, 7.0)
    if kind == "agn":
        # Ornstein-Uhlenbeck (damped random walk) step from the previous state
        dt = max(t - params["t_prev"], 0.0)
        decay = math.exp(-dt / params["tau"])
        params["state"] = params["state"] * decay + params["sigma"] * math.sqrt(1 - decay * decay) * rng.gauss(0, 1)
        params["t_prev"] = t
        return params["state"] * _band_factor(band, 12.0)
    if kind == "flat":
        return params["level"] * _band_factor(band, 6.0)
    return 0.0  # bogus: noise, plus artefacts added by the caller


def _make_object(rng: random.Random, object_id: int, end_mjd: float, kind: str | None,
                 n_detections: int | None) -> _Object:
    kind = kind or rng.choices(KINDS, KIND_WEIGHTS)[0]
    ra = rng.uniform(0.0, 360.0)
    dec = math.degrees(math.asin(rng.uniform(-1.0, math.sin(math.radians(30.0)))))
    obj = _Object(object_id, kind, ra, dec)
    span = rng.uniform(3.0, 365.0)
    if n_detections is not None:
        span = min(365.0, max(span, n_detections * 1.1))
    # Denser cadence when many detections must fit in the 12 months an alert carries.
    density = min(0.95, max(0.35, (n_detections or 0) * 1.15 / (0.93 * 365 * 1.6)))
    schedule = _schedule(rng, end_mjd, span, min_visits=n_detections or 1, night_probability=density)
    params: dict[str, float] = {}
    if kind == "supernova":
        params = {"t0": end_mjd - rng.uniform(-5.0, 40.0), "amp": 10 ** rng.uniform(3.3, 5.0),
                  "rise": rng.uniform(2.0, 6.0), "fall": rng.uniform(15.0, 60.0), "temp": rng.uniform(8.0, 20.0)}
    elif kind == "periodic":
        params = {"amp": 10 ** rng.uniform(3.0, 4.3), "period": rng.uniform(0.3, 40.0),
                  "phase": rng.uniform(0, 2 * math.pi)}
    elif kind == "agn":
        params = {"tau": rng.uniform(50.0, 300.0), "sigma": 10 ** rng.uniform(3.0, 3.8), "state": 0.0,
                  "t_prev": schedule[0][0]}
    elif kind == "flat":
        params = {"level": 10 ** rng.uniform(3.2, 4.0) * rng.choice((-1, 1))}
    host = 10 ** rng.uniform(2.5, 4.5)
    for t, band in schedule:
        sigma = SIGMA_NJY[band] * rng.uniform(0.8, 1.3)
        true = _model_flux(obj, params, rng, t, band)
        err = math.sqrt(sigma * sigma + abs(true) * 5.0)  # sky noise plus a little source noise
        flux = true + rng.gauss(0.0, err)
        reliability = rng.uniform(0.0, 0.35) if kind == "bogus" else min(1.0, rng.uniform(0.55, 1.05))
        if kind == "bogus" and rng.random() < 0.25:
            flux += rng.uniform(6.0, 15.0) * err  # artefact: a spurious bright residual
        obj.visits.append(_Visit(t, band, flux, err, host * _band_factor(band, 5.0), reliability))
    for visit in obj.visits:
        visit.detected = abs(visit.flux) / visit.err >= DETECTION_SNR
    last = obj.visits[-1]
    if not last.detected:  # an alert exists because its last visit produced a detection
        last.flux = math.copysign(max(abs(last.flux), DETECTION_SNR * 1.2 * last.err), last.flux or 1.0)
        last.detected = True
    if n_detections is not None:
        for i, visit in enumerate(reversed(obj.visits)):
            visit.detected = i < n_detections
    return obj


_F32 = dict(zip(("err2e5", "cov", "tenth", "exposure"), array("f", [2e-5, 1e-11, 0.1, 30.0]).tolist(), strict=True))


def _visit_floats(visit: _Visit) -> list[float]:
    """The visit's float32 fields, rounded in one go (cached on the visit)."""
    if visit.f32 is None:
        flux, err = visit.flux, visit.err
        visit.f32 = array("f", [flux, err, visit.template_flux + flux, flux * 1.02, err * 1.1, abs(flux / err),
                                1.0 + abs(flux / err) * 0.01, visit.template_flux, err * 0.5,
                                visit.reliability]).tolist()
    return visit.f32


@cache
def _extras(version: str, record: str, keys: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(keys - set(record_fields(version, record))))


_SOURCE_KEYS = frozenset({"exposureTime", "reliabilityVersion"})


def _source(version: str, obj: _Object, visit: _Visit, index: int) -> dict[str, Any]:
    flux, err, science, ap, ap_err, snr, chi2, template, template_err, reliability = _visit_floats(visit)
    out = dict(_template(version, "diaSource"))
    out.update({
        "diaSourceId": obj.object_id * 10_000 + index,
        "visit": 2025_0000_0000 + int(visit.mjd * 1000) % 10_000_000,
        "detector": index % 189,
        "diaObjectId": obj.object_id,
        "midpointMjdTai": visit.mjd,
        "exposureTime": _F32["exposure"],
        "ra": obj.ra,
        "raErr": _F32["err2e5"],
        "dec": obj.dec,
        "decErr": _F32["err2e5"],
        "ra_dec_Cov": _F32["cov"],
        "x": float(100 + (index * 37) % 3900),
        "xErr": _F32["tenth"],
        "y": float(100 + (index * 53) % 3900),
        "yErr": _F32["tenth"],
        "apFlux": ap,
        "apFluxErr": ap_err,
        "isNegative": flux < 0,
        "snr": snr,
        "psfFlux": flux,
        "psfFluxErr": err,
        "psfChi2": chi2,
        "psfNdata": 441,
        "trailNdata": 0,
        "dipoleNdata": 0,
        "bboxSize": 21,
        "scienceFlux": science,
        "scienceFluxErr": err,
        "templateFlux": template,
        "templateFluxErr": template_err,
        "extendedness": _F32["tenth"],
        "reliability": reliability,
        "reliabilityVersion": "synthetic-1",
        "band": visit.band,
        "isDipole": False,
        "timeProcessedMjdTai": visit.mjd + 0.003,
    })
    for name in _extras(version, "diaSource", _SOURCE_KEYS):
        del out[name]
    return out


def _forced(version: str, obj: _Object, visit: _Visit, index: int) -> dict[str, Any]:
    flux, err, science = _visit_floats(visit)[:3]
    return {
        "diaForcedSourceId": obj.object_id * 10_000 + 5_000 + index,
        "diaObjectId": obj.object_id,
        "ra": obj.ra,
        "dec": obj.dec,
        "visit": 2025_0000_0000 + int(visit.mjd * 1000) % 10_000_000,
        "detector": index % 189,
        "psfFlux": flux,
        "psfFluxErr": err,
        "midpointMjdTai": visit.mjd,
        "scienceFlux": science,
        "scienceFluxErr": err,
        "band": visit.band,
        "timeProcessedMjdTai": visit.mjd + 0.003,
        "timeWithdrawnMjdTai": None,
    }


def _weighted_mean(values: Sequence[float], errors: Sequence[float]) -> tuple[float, float]:
    weights = [1 / (e * e) for e in errors]
    total = sum(weights)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / total, math.sqrt(1 / total)


def _dia_object(version: str, obj: _Object, detections: list[dict[str, Any]], forced: list[dict[str, Any]],
                valid_from: float) -> dict[str, Any]:
    values: dict[str, Any] = {
        "diaObjectId": obj.object_id, "validityStartMjdTai": valid_from, "ra": obj.ra, "raErr": 2e-5,
        "dec": obj.dec, "decErr": 2e-5, "ra_dec_Cov": 1e-11, "nDiaSources": len(detections),
        "firstDiaSourceMjdTai": detections[0]["midpointMjdTai"], "lastDiaSourceMjdTai": detections[-1]["midpointMjdTai"],
    }
    for band in BANDS:
        points = [s for s in detections if s["band"] == band]
        values[f"{band}_psfFluxNdata"] = len(points)
        if points:
            fluxes, errors = [s["psfFlux"] for s in points], [s["psfFluxErr"] for s in points]
            mean, mean_err = _weighted_mean(fluxes, errors)
            science = [s["scienceFlux"] for s in points]
            values |= {
                f"{band}_psfFluxMean": mean, f"{band}_psfFluxMeanErr": mean_err,
                f"{band}_psfFluxSigma": _stdev(fluxes),
                f"{band}_psfFluxMin": min(fluxes), f"{band}_psfFluxMax": max(fluxes),
                f"{band}_psfFluxErrMean": sum(errors) / len(errors),
                f"{band}_psfFluxMaxSlope": _max_slope(points),
                f"{band}_scienceFluxMean": sum(science) / len(science),
                f"{band}_scienceFluxMeanErr": _stdev(science) / math.sqrt(len(science)) if len(science) > 1 else None,
            }
        fp = [s for s in forced if s["band"] == band]
        if fp:
            mean, mean_err = _weighted_mean([s["psfFlux"] for s in fp], [s["psfFluxErr"] for s in fp])
            values |= {f"{band}_fpFluxMean": mean, f"{band}_fpFluxMeanErr": mean_err}
    return _fill(version, "diaObject", values)


def _stdev(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _max_slope(points: list[dict[str, Any]]) -> float | None:
    slopes = [
        (b["psfFlux"] - a["psfFlux"]) / (b["midpointMjdTai"] - a["midpointMjdTai"])
        for a, b in itertools.pairwise(points)
        if b["midpointMjdTai"] > a["midpointMjdTai"]
    ]
    return max(slopes) if slopes else None


def _alert(version: str, obj: _Object, upto: int, cutouts: bool) -> dict[str, Any]:
    """The alert of the detection at visit index ``upto`` (history: everything before it, <= 12 months)."""
    trigger_visit = obj.visits[upto]
    window_start = trigger_visit.mjd - 365.0
    detections, forced = [], []
    for index, visit in enumerate(obj.visits[: upto + 1]):
        if visit.mjd < window_start:
            continue
        if visit.detected:
            detections.append(_source(version, obj, visit, index))
        if index < upto:
            forced.append(_forced(version, obj, visit, index))
    trigger = detections[-1]
    return {
        "diaSourceId": trigger["diaSourceId"],
        "observation_reason": None,
        "target_name": None,
        "diaSource": trigger,
        "prvDiaSources": detections[:-1],
        "prvDiaForcedSources": forced,
        "diaObject": _dia_object(version, obj, detections, forced, trigger_visit.mjd),
        "ssSource": None,
        "mpc_orbits": None,
        "cutoutDifference": bytes(64) if cutouts else None,
        "cutoutScience": None,
        "cutoutTemplate": None,
    }


def _solar_system_alert(version: str, rng: random.Random, object_id: int, end_mjd: float) -> dict[str, Any]:
    obj = _Object(object_id, "solar-system", rng.uniform(0, 360), rng.uniform(-30, 30))
    visit = _Visit(end_mjd, rng.choices(BANDS, cum_weights=_BAND_CUM)[0], 5000.0, 120.0, 0.0, 0.95, True)
    source = _source(version, obj, visit, 0)
    source["diaObjectId"] = None
    source["ssObjectId"] = object_id
    return {
        "diaSourceId": source["diaSourceId"], "observation_reason": None, "target_name": None,
        "diaSource": source, "prvDiaSources": None, "prvDiaForcedSources": None, "diaObject": None,
        "ssSource": None, "mpc_orbits": None, "cutoutDifference": None, "cutoutScience": None, "cutoutTemplate": None,
    }


def generate_alerts(
    count: int,
    seed: int = 0,
    schema_version: str = LATEST_VERSION,
    *,
    detections: int | None = None,
    kinds: Sequence[str] | None = None,
    alerts_per_object: int = 1,
    solar_system_fraction: float = 0.0,
    end_mjd: float = DEFAULT_END_MJD,
    cutouts: bool = False,
) -> list[dict[str, Any]]:
    """``count`` alerts, the same for the same arguments.

    ``detections`` fixes the number of detections each alert carries (benchmarks);
    ``kinds`` restricts the lightcurve kinds; ``alerts_per_object`` > 1 gives each object
    its successive alerts (oldest first), as a replay of the stream would (objects with
    fewer detections are passed over);
    ``solar_system_fraction`` of the alerts have no diaObject. Cutouts are 64 zero bytes
    when ``cutouts`` is true, else null.
    """
    record_fields(schema_version, "diaSource")  # fail fast on an unknown version
    for kind in kinds or ():
        if kind not in KINDS:
            raise ValueError(f"unknown lightcurve kind {kind!r}; use one of {', '.join(KINDS)}")
    rng = random.Random(f"skystream-alerts-{seed}")
    alerts: list[dict[str, Any]] = []
    index = 0
    while len(alerts) < count:
        object_id = OBJECT_ID_BASE + (seed % 100_000) * 10_000_000 + index
        index += 1
        if solar_system_fraction and rng.random() < solar_system_fraction:
            alerts.append(_solar_system_alert(schema_version, rng, object_id, end_mjd))
            continue
        kind = rng.choice(list(kinds)) if kinds else None
        obj = _make_object(rng, object_id, end_mjd - rng.uniform(0, 2.0), kind, detections)
        detected = [i for i, v in enumerate(obj.visits) if v.detected]
        if len(detected) < alerts_per_object:
            continue  # each object yields exactly alerts_per_object alerts
        for upto in detected[-alerts_per_object:]:
            if len(alerts) < count:
                alerts.append(_alert(schema_version, obj, upto, cutouts))
    return alerts
