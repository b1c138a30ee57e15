"""The corpus: Lasair-style filters, each with its expected result written as plain Python.

Expected rows never go through SQL: each filter carries a predicate and a projection over
one object's joined context (objects row, sherlock row, TNS row, annotations by annotator),
written with SQL's NULL rules spelled out (a comparison with NULL is not true).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from filter_corpus.rows import NOW_MJD
from skystream.filters.batch import BatchRows


@dataclass(frozen=True)
class Ctx:
    o: dict[str, Any]
    s: dict[str, Any] | None = None
    t: dict[str, Any] | None = None
    a: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class CorpusFilter:
    name: str
    query: dict[str, str]  # FilterQuery fields
    match: Callable[[Ctx], bool]
    select: Callable[[Ctx], dict[str, Any]]
    needs: frozenset[str] = frozenset()  # "sherlock", "tns", or annotator names (inner joins)
    order: Callable[[Ctx], Any] | None = None  # expected ORDER BY key (ascending)
    descending: bool = False
    limit: int | None = None


def mag(flux: float | None) -> float | None:
    return None if flux is None or flux <= 0 else 31.4 - 2.5 * math.log10(flux)


def gt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a > b


def lt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a < b


def ge(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a >= b


def eq_ci(a: Any, b: str) -> bool:
    """MySQL's default collation: string equality ignores case."""
    return a is not None and str(a).lower() == b.lower()


def between(a: Any, lo: float, hi: float) -> bool:
    return a is not None and lo <= a <= hi


def prob(annotation: dict[str, Any]) -> float | None:
    return json.loads(annotation["classdict"]).get("prob")


def oid(c: Ctx) -> dict[str, Any]:
    return {"diaObjectId": c.o["diaObjectId"]}


def _q(selected: str, conditions: str, tables: str = "objects") -> dict[str, str]:
    return {"selected": selected, "tables": tables, "conditions": conditions}


S = frozenset({"sherlock"})
T = frozenset({"tns"})
FF = frozenset({"fastfinder"})

CORPUS: list[CorpusFilter] = [
    CorpusFilter("bright_g", _q("objects.diaObjectId, objects.g_psfFlux", "objects.g_psfFlux > 10000"),
                 lambda c: gt(c.o["g_psfFlux"], 10000), lambda c: {**oid(c), "g_psfFlux": c.o["g_psfFlux"]}),
    CorpusFilter("bright_mag", _q("objects.diaObjectId, flux2mag(objects.g_psfFlux) AS gmag",
                                  "flux2mag(objects.g_psfFlux) < 20"),
                 lambda c: lt(mag(c.o["g_psfFlux"]), 20), lambda c: {**oid(c), "gmag": mag(c.o["g_psfFlux"])}),
    CorpusFilter("rising_g", _q("objects.diaObjectId", "objects.g_psfFluxMean > 0 AND objects.g_psfFlux > 1.5 * objects.g_psfFluxMean"),
                 lambda c: gt(c.o["g_psfFluxMean"], 0) and c.o["g_psfFlux"] is not None
                 and c.o["g_psfFlux"] > 1.5 * c.o["g_psfFluxMean"], oid),
    CorpusFilter("bright_and_rising_r", _q("diaObjectId, r_psfFlux",
                                           "flux2mag(r_psfFlux) < 21 AND r_psfFlux > r_psfFluxMean + 3 * r_psfFluxMeanErr"),
                 lambda c: lt(mag(c.o["r_psfFlux"]), 21) and c.o["r_psfFluxMean"] is not None
                 and c.o["r_psfFlux"] > c.o["r_psfFluxMean"] + 3 * c.o["r_psfFluxMeanErr"],
                 lambda c: {**oid(c), "r_psfFlux": c.o["r_psfFlux"]}),
    CorpusFilter("red_colour_pair", _q("objects.diaObjectId, objects.latestPairColourMag",
                                       "objects.latestPairColourBands = 'gr' AND objects.latestPairColourMag > 0.5"),
                 lambda c: c.o["latestPairColourBands"] == "gr" and gt(c.o["latestPairColourMag"], 0.5),
                 lambda c: {**oid(c), "latestPairColourMag": c.o["latestPairColourMag"]}),
    CorpusFilter("blue_hot_pair", _q("diaObjectId", "latestPairColourMag < 0 AND latestPairColourTemp > 10"),
                 lambda c: lt(c.o["latestPairColourMag"], 0) and gt(c.o["latestPairColourTemp"], 10), oid),
    CorpusFilter("high_reliability", _q("objects.diaObjectId, objects.latestR", "objects.latestR > 0.9 AND objects.medianR > 0.8"),
                 lambda c: gt(c.o["latestR"], 0.9) and gt(c.o["medianR"], 0.8),
                 lambda c: {**oid(c), "latestR": c.o["latestR"]}),
    CorpusFilter("mostly_good", _q("diaObjectId", "nSourcesGood >= 5 AND nSourcesGood * 2 > nDiaSources"),
                 lambda c: c.o["nSourcesGood"] >= 5 and c.o["nSourcesGood"] * 2 > c.o["nDiaSources"], oid),
    CorpusFilter("annotator_kilonova", _q("objects.diaObjectId, fastfinder.classification",
                                          "fastfinder.classification = 'kilonova'", "objects, annotator:fastfinder"),
                 lambda c: c.a["fastfinder"]["classification"] == "kilonova",
                 lambda c: {**oid(c), "classification": "kilonova"}, needs=FF),
    CorpusFilter("annotator_confident", _q("objects.diaObjectId, JSON_EXTRACT(fastfinder.classdict, '$.prob') AS p",
                                           "JSON_EXTRACT(fastfinder.classdict, '$.prob') > 0.8", "objects, annotator:fastfinder"),
                 lambda c: gt(prob(c.a["fastfinder"]), 0.8), lambda c: {**oid(c), "p": prob(c.a["fastfinder"])}, needs=FF),
    CorpusFilter("annotators_agree", _q("objects.diaObjectId, lsst_ml.classification AS cls",
                                        "fastfinder.classification = lsst_ml.classification",
                                        "objects, annotator:fastfinder, annotator:lsst_ml"),
                 lambda c: c.a["fastfinder"]["classification"] == c.a["lsst_ml"]["classification"],
                 lambda c: {**oid(c), "cls": c.a["lsst_ml"]["classification"]},
                 needs=frozenset({"fastfinder", "lsst_ml"})),
    CorpusFilter("sherlock_sn_near_galaxy", _q("objects.diaObjectId, sherlock_classifications.separationArcsec",
                                               "sherlock_classifications.classification = 'SN' AND "
                                               "sherlock_classifications.separationArcsec < 5",
                                               "objects, sherlock_classifications"),
                 lambda c: c.s["classification"] == "SN" and lt(c.s["separationArcsec"], 5),
                 lambda c: {**oid(c), "separationArcsec": c.s["separationArcsec"]}, needs=S),
    CorpusFilter("sherlock_nuclear_bright", _q("objects.diaObjectId", "sherlock_classifications.classification = 'NT' "
                                               "AND objects.r_psfFlux > 1000", "objects, sherlock_classifications"),
                 lambda c: c.s["classification"] == "NT" and gt(c.o["r_psfFlux"], 1000), oid, needs=S),
    CorpusFilter("sherlock_not_stellar", _q("objects.diaObjectId", "sherlock_classifications.classification NOT IN ('VS', 'BS', 'CV') "
                                            "AND objects.latestR > 0.7", "objects, sherlock_classifications"),
                 lambda c: c.s["classification"] not in ("VS", "BS", "CV") and gt(c.o["latestR"], 0.7), oid, needs=S),
    CorpusFilter("sherlock_nearby_specz", _q("objects.diaObjectId, sherlock_classifications.z",
                                             "sherlock_classifications.z IS NOT NULL AND sherlock_classifications.z < 0.05",
                                             "objects, sherlock_classifications"),
                 lambda c: lt(c.s["z"], 0.05), lambda c: {**oid(c), "z": c.s["z"]}, needs=S),
    CorpusFilter("sherlock_any_z", _q("objects.diaObjectId, COALESCE(sherlock_classifications.z, sherlock_classifications.photoZ) AS zz",
                                      "COALESCE(sherlock_classifications.z, sherlock_classifications.photoZ) < 0.1",
                                      "objects, sherlock_classifications"),
                 lambda c: lt(c.s["z"] if c.s["z"] is not None else c.s["photoZ"], 0.1),
                 lambda c: {**oid(c), "zz": c.s["z"] if c.s["z"] is not None else c.s["photoZ"]}, needs=S),
    CorpusFilter("sherlock_case_insensitive", _q("objects.diaObjectId", "sherlock_classifications.classification = 'agn'",
                                                 "objects, sherlock_classifications"),
                 lambda c: eq_ci(c.s["classification"], "agn"), oid, needs=S),
    CorpusFilter("tns_known", _q("objects.diaObjectId, crossmatch_tns.tns_name", "crossmatch_tns.tns_name IS NOT NULL",
                                 "objects, crossmatch_tns"),
                 lambda c: c.t["tns_name"] is not None, lambda c: {**oid(c), "tns_name": c.t["tns_name"]}, needs=T),
    CorpusFilter("tns_ia", _q("objects.diaObjectId, crossmatch_tns.type", "crossmatch_tns.type = 'SN Ia'",
                              "objects, crossmatch_tns"),
                 lambda c: c.t["type"] == "SN Ia", lambda c: {**oid(c), "type": "SN Ia"}, needs=T),
    CorpusFilter("tns_unclassified_at", _q("objects.diaObjectId", "crossmatch_tns.type IS NULL AND crossmatch_tns.tns_prefix = 'AT'",
                                           "objects, crossmatch_tns"),
                 lambda c: c.t["type"] is None and c.t["tns_prefix"] == "AT", oid, needs=T),
    CorpusFilter("tns_2025", _q("objects.diaObjectId", "crossmatch_tns.tns_name LIKE '2025%'", "objects, crossmatch_tns"),
                 lambda c: c.t["tns_name"].startswith("2025"), oid, needs=T),
    CorpusFilter("jump", _q("objects.diaObjectId, objects.jump1", "objects.jump1 > 5"),
                 lambda c: gt(c.o["jump1"], 5), lambda c: {**oid(c), "jump1": c.o["jump1"]}),
    CorpusFilter("jump_both", _q("diaObjectId", "jump1 > 3 AND jump2 > 2"),
                 lambda c: gt(c.o["jump1"], 3) and gt(c.o["jump2"], 2), oid),
    CorpusFilter("recent", _q("objects.diaObjectId, mjdnow() - objects.lastDiaSourceMjdTai AS age",
                              "objects.lastDiaSourceMjdTai > mjdnow() - 3"),
                 lambda c: c.o["lastDiaSourceMjdTai"] > NOW_MJD - 3,
                 lambda c: {**oid(c), "age": NOW_MJD - c.o["lastDiaSourceMjdTai"]}),
    CorpusFilter("young", _q("diaObjectId", "mjdnow() - firstDiaSourceMjdTai < 20 AND nDiaSources >= 3"),
                 lambda c: NOW_MJD - c.o["firstDiaSourceMjdTai"] < 20 and c.o["nDiaSources"] >= 3, oid),
    CorpusFilter("mjd_window", _q("diaObjectId", "lastDiaSourceMjdTai BETWEEN 60950 AND 60980"),
                 lambda c: between(c.o["lastDiaSourceMjdTai"], 60950, 60980), oid),
    CorpusFilter("off_plane", _q("diaObjectId", "ABS(glat) > 20 AND latestR > 0.5"),
                 lambda c: abs(c.o["glat"]) > 20 and gt(c.o["latestR"], 0.5), oid),
    CorpusFilter("sky_box", _q("diaObjectId, ra, decl", "ra BETWEEN 150 AND 200 AND decl BETWEEN -30 AND 10"),
                 lambda c: between(c.o["ra"], 150, 200) and between(c.o["decl"], -30, 10),
                 lambda c: {**oid(c), "ra": c.o["ra"], "decl": c.o["decl"]}),
    CorpusFilter("brightest_ten", _q("objects.diaObjectId, objects.g_psfFlux",
                                     "objects.g_psfFlux > 0 ORDER BY objects.g_psfFlux DESC LIMIT 10"),
                 lambda c: gt(c.o["g_psfFlux"], 0), lambda c: {**oid(c), "g_psfFlux": c.o["g_psfFlux"]},
                 order=lambda c: c.o["g_psfFlux"], descending=True, limit=10),
    CorpusFilter("red_g_minus_r", _q("objects.diaObjectId, flux2mag(g_psfFlux) - flux2mag(r_psfFlux) AS g_r",
                                     "g_psfFlux > 0 AND r_psfFlux > 0 AND flux2mag(g_psfFlux) - flux2mag(r_psfFlux) > 0.7"),
                 lambda c: gt(c.o["g_psfFlux"], 0) and gt(c.o["r_psfFlux"], 0)
                 and mag(c.o["g_psfFlux"]) - mag(c.o["r_psfFlux"]) > 0.7,
                 lambda c: {**oid(c), "g_r": mag(c.o["g_psfFlux"]) - mag(c.o["r_psfFlux"])}),
    CorpusFilter("verdict_if", _q("diaObjectId, IF(latestR > 0.5, 'real', 'bogus') AS verdict", "nDiaSources > 150"),
                 lambda c: c.o["nDiaSources"] > 150,
                 lambda c: {**oid(c), "verdict": "real" if gt(c.o["latestR"], 0.5) else "bogus"}),
    CorpusFilter("quiet_ifnull", _q("diaObjectId", "IFNULL(jump1, 0) < 1 AND nDiaSources > 150"),
                 lambda c: (c.o["jump1"] or 0) < 1 and c.o["nDiaSources"] > 150, oid),
    CorpusFilter("pair_starts_g", _q("diaObjectId, latestPairColourBands", "LEFT(latestPairColourBands, 1) = 'g'"),
                 lambda c: (c.o["latestPairColourBands"] or "").startswith("g"),
                 lambda c: {**oid(c), "latestPairColourBands": c.o["latestPairColourBands"]}),
    CorpusFilter("host_galaxy_upper", _q("objects.diaObjectId",
                                         "UPPER(sherlock_classifications.catalogue_object_type) = 'GALAXY' "
                                         "AND sherlock_classifications.Mag < 16", "objects, sherlock_classifications"),
                 lambda c: c.s["catalogue_object_type"] == "galaxy" and lt(c.s["Mag"], 16), oid, needs=S),
    CorpusFilter("log10_flux", _q("diaObjectId, ROUND(LOG10(i_psfFlux), 2) AS lg", "LOG10(i_psfFlux) > 4.5"),
                 lambda c: gt(c.o["i_psfFlux"], 10 ** 4.5),
                 lambda c: {**oid(c), "lg": math.floor(math.log10(c.o["i_psfFlux"]) * 100 + 0.5) / 100}),
    CorpusFilter("either_band_bright", _q("diaObjectId", "g_psfFlux > 50000 OR r_psfFlux > 50000"),
                 lambda c: gt(c.o["g_psfFlux"], 50000) or gt(c.o["r_psfFlux"], 50000), oid),
    CorpusFilter("not_unreliable", _q("diaObjectId", "NOT (latestR < 0.5) AND nDiaSources < 20"),
                 lambda c: c.o["latestR"] is not None and not c.o["latestR"] < 0.5 and c.o["nDiaSources"] < 20, oid),
    CorpusFilter("full_sql_agn", {"sql": "SELECT objects.diaObjectId, sherlock_classifications.classification "
                                         "FROM objects, sherlock_classifications "
                                         "WHERE objects.diaObjectId = sherlock_classifications.diaObjectId "
                                         "AND sherlock_classifications.classification = 'AGN' AND objects.r_psfFlux > 5000"},
                 lambda c: c.s["classification"] == "AGN" and gt(c.o["r_psfFlux"], 5000),
                 lambda c: {**oid(c), "classification": "AGN"}, needs=S),
    CorpusFilter("full_sql_annotation", {"sql": "SELECT objects.diaObjectId, lsst_ml.classification FROM objects, annotations AS lsst_ml "
                                                "WHERE lsst_ml.diaObjectId = objects.diaObjectId AND lsst_ml.classification = 'SN Ia'"},
                 lambda c: c.a["lsst_ml"]["classification"] == "SN Ia",
                 lambda c: {**oid(c), "classification": "SN Ia"}, needs=frozenset({"lsst_ml"})),
]


def contexts(batch: BatchRows, needs: frozenset[str]) -> list[Ctx]:
    """Each object's joined context; objects missing a needed table are dropped (inner join)."""
    sherlock = {r["diaObjectId"]: r for r in batch.sherlock_classifications}
    tns = {r["diaObjectId"]: r for r in batch.crossmatch_tns}
    annotations: dict[tuple[str, int], dict[str, Any]] = {(r["annotator"], r["diaObjectId"]): r for r in batch.annotations}
    out = []
    for o in batch.objects:
        key = o["diaObjectId"]
        wanted = [n for n in needs if n not in ("sherlock", "tns")]
        ann = {n: annotations.get((n, key)) for n in wanted}
        s, t = sherlock.get(key), tns.get(key)
        if ("sherlock" in needs and s is None) or ("tns" in needs and t is None) or any(v is None for v in ann.values()):
            continue
        out.append(Ctx(o=o, s=s, t=t, a=ann))  # type: ignore[arg-type]
    return out


def expected_rows(f: CorpusFilter, batch: BatchRows) -> list[dict[str, Any]]:
    matched = [c for c in contexts(batch, f.needs) if f.match(c)]
    if f.order is not None:
        matched.sort(key=f.order, reverse=f.descending)
    rows = [f.select(c) for c in matched]
    return rows[: f.limit] if f.limit is not None else rows
