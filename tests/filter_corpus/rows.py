"""Random but plausible batch rows (objects + context), with NULLs, independent of the alert
generator: the corpus checks the engine, not the feature code.

Deterministic by seed. ``NOW_MJD`` is the clock the tests give the engine (mjdnow()).
"""

from __future__ import annotations

import json
import random
from typing import Any

from skystream.features.columns import BANDS, OBJECT_COLUMNS
from skystream.filters.batch import BatchRows

NOW_MJD = 61000.0
ANNOTATORS = ("fastfinder", "lsst_ml")
SHERLOCK_CLASSES = ("SN", "NT", "AGN", "CV", "VS", "BS", "ORPHAN", "UNCLEAR")
ANNOTATION_CLASSES = ("kilonova", "SN Ia", "SN II", "AGN", "TDE", "bogus")


def clock_for(mjd: float = NOW_MJD) -> float:
    """Unix seconds for an MJD: the engine's clock argument."""
    return (mjd - 40587.0) * 86400.0


def _maybe(rng: random.Random, p_null: float, value: Any) -> Any:
    return None if rng.random() < p_null else value


def _flux(rng: random.Random) -> float | None:
    if rng.random() < 0.25:
        return None
    if rng.random() < 0.1:
        return rng.uniform(-2000.0, 0.0)
    return 10 ** rng.uniform(1.5, 5.5)


def _generic(rng: random.Random, sql_type: str) -> Any:
    if rng.random() < 0.3:
        return None
    if sql_type == "DOUBLE":
        return rng.uniform(-100.0, 1000.0)
    if sql_type in ("INTEGER", "BIGINT"):
        return rng.randint(0, 500)
    return rng.choice(["x", "y", "zz"])


def object_row(rng: random.Random, dia_object_id: int) -> dict[str, Any]:
    row: dict[str, Any] = {c.name: _generic(rng, c.sql_type) for c in OBJECT_COLUMNS}
    row["diaObjectId"] = dia_object_id
    row["ra"] = rng.uniform(0.0, 360.0)
    row["decl"] = rng.uniform(-90.0, 30.0)
    row["glat"] = rng.uniform(-90.0, 90.0)
    n = rng.randint(1, 200)
    row["nDiaSources"] = n
    row["nSourcesGood"] = rng.randint(0, n)
    first = NOW_MJD - rng.uniform(0.0, 400.0)
    row["firstDiaSourceMjdTai"] = first
    row["lastDiaSourceMjdTai"] = rng.uniform(first, NOW_MJD)
    row["latestR"] = _maybe(rng, 0.05, rng.random())
    row["medianR"] = _maybe(rng, 0.05, rng.random())
    for b in BANDS:
        flux = _flux(rng)
        row[f"{b}_psfFlux"] = flux
        mean = None if flux is None or rng.random() < 0.2 else abs(flux) * rng.uniform(0.3, 1.5)
        row[f"{b}_psfFluxMean"] = mean
        row[f"{b}_psfFluxMeanErr"] = None if mean is None else mean * rng.uniform(0.01, 0.3)
        row[f"{b}_latestMJD"] = None if flux is None else rng.uniform(first, NOW_MJD)
    jump1 = _maybe(rng, 0.4, rng.uniform(0.0, 20.0))
    row["jump1"] = jump1
    row["jump2"] = None if jump1 is None else rng.uniform(0.0, jump1)
    for which in ("latest", "penultimate"):
        has_pair = rng.random() < 0.5
        row[f"{which}PairColourBands"] = rng.choice(["gr", "ri", "iz", "ug", "gi"]) if has_pair else None
        row[f"{which}PairColourMag"] = rng.uniform(-1.0, 2.0) if has_pair else None
        row[f"{which}PairColourTemp"] = rng.uniform(2.0, 30.0) if has_pair else None
        row[f"{which}PairMJD"] = rng.uniform(first, NOW_MJD) if has_pair else None
    return row


def make_batch(count: int = 2000, seed: int = 7) -> BatchRows:
    rng = random.Random(seed)
    objects = []
    for i in range(count):
        oid = 3_000_000_000_000 + i * 17 + rng.randint(0, 16)
        objects.append(object_row(rng, oid))
    return with_context(objects, seed)


def with_context(objects: list[dict[str, Any]], seed: int = 7) -> BatchRows:
    """A batch of these objects plus random sherlock (60%), TNS (15%) and annotation rows
    (35% per annotator) for them."""
    rng = random.Random(seed + 1)
    batch = BatchRows(objects=list(objects))
    for o in objects:
        oid = o["diaObjectId"]
        if rng.random() < 0.6:
            batch.sherlock_classifications.append({
                "diaObjectId": oid,
                "classification": rng.choice(SHERLOCK_CLASSES),
                "association_type": rng.choice(["SN", "NT", "VS", None]),
                "catalogue_object_type": rng.choice(["galaxy", "star", "qso", None]),
                "catalogue_table_name": rng.choice(["GLADE", "PS1", "GAIA"]),
                "separationArcsec": rng.uniform(0.0, 20.0),
                "z": _maybe(rng, 0.6, rng.uniform(0.001, 0.3)),
                "photoZ": _maybe(rng, 0.3, rng.uniform(0.01, 0.8)),
                "Mag": rng.uniform(12.0, 23.0),
            })
        if rng.random() < 0.15:
            batch.crossmatch_tns.append({
                "diaObjectId": oid,
                "tns_name": f"{rng.choice([2024, 2025])}{rng.choice('abcdefgh')}{rng.choice('xyz')}",
                "tns_prefix": rng.choice(["SN", "AT"]),
                "type": rng.choice(["SN Ia", "SN II", None, None]),
                "z": _maybe(rng, 0.5, rng.uniform(0.0, 0.2)),
                "disc_date": "2025-10-01 12:00:00",
            })
        for annotator in ANNOTATORS:
            if rng.random() < 0.35:
                cls = rng.choice(ANNOTATION_CLASSES)
                batch.annotations.append({
                    "annotator": annotator,
                    "diaObjectId": oid,
                    "classification": cls,
                    "version": "1.0",
                    "explanation": f"{annotator} thinks {cls}",
                    "classdict": json.dumps({"class": cls, "prob": round(rng.random(), 3)}),
                    "url": None,
                    "timestamp": "2025-11-30 10:00:00",
                })
    return batch
