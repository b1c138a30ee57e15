"""The synthetic alert generator: deterministic, schema-valid, physically sensible."""

import math
import time

import fastavro.validation
import pytest

from skystream.alerts.schema_files import SCHEMA_VERSIONS, parsed_schema
from skystream.devtools.generator import KINDS, generate_alerts


def test_same_seed_same_alerts_other_seed_other_alerts() -> None:
    assert generate_alerts(20, seed=7) == generate_alerts(20, seed=7)
    assert generate_alerts(5, seed=7) != generate_alerts(5, seed=8)
    ids = [a["diaObject"]["diaObjectId"] for a in generate_alerts(50, seed=7)]
    assert len(set(ids)) == 50


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_alerts_validate_against_the_schema(version: str) -> None:
    for alert in generate_alerts(10, seed=1, schema_version=version, solar_system_fraction=0.2):
        assert fastavro.validation.validate(alert, parsed_schema(version), raise_errors=True)


def test_histories_are_at_most_twelve_months_and_consistent() -> None:
    for alert in generate_alerts(60, seed=3):
        trigger = alert["diaSource"]
        times = [s["midpointMjdTai"] for s in alert["prvDiaSources"]] + [
            s["midpointMjdTai"] for s in alert["prvDiaForcedSources"]
        ]
        assert all(trigger["midpointMjdTai"] - 365 <= t < trigger["midpointMjdTai"] for t in times)
        obj = alert["diaObject"]
        assert obj["nDiaSources"] == 1 + len(alert["prvDiaSources"])
        assert obj["lastDiaSourceMjdTai"] == trigger["midpointMjdTai"]
        assert sum(obj[f"{b}_psfFluxNdata"] for b in "ugrizy") == obj["nDiaSources"]
        # detections are S/N >= 5 (bogus artefacts included); noise matches the quoted errors
        for s in [trigger, *alert["prvDiaSources"]]:
            assert abs(s["psfFlux"]) / s["psfFluxErr"] >= 4.99
            assert s["band"] in "ugrizy"
        assert alert["cutoutDifference"] is None


def test_fixed_detection_counts_for_benchmarks() -> None:
    for n in (10, 100, 300):
        alert = generate_alerts(1, seed=n, detections=n)[0]
        assert 1 + len(alert["prvDiaSources"]) == n


def test_kinds_look_like_what_they_are() -> None:
    bogus = generate_alerts(30, seed=2, kinds=["bogus"])
    reliability = [s["reliability"] for a in bogus for s in [a["diaSource"], *a["prvDiaSources"]]]
    assert max(reliability) < 0.4
    sne = generate_alerts(30, seed=2, kinds=["supernova"])
    real = [s["reliability"] for a in sne for s in [a["diaSource"], *a["prvDiaSources"]]]
    assert min(real) > 0.5
    # a periodic variable's difference flux goes both ways around the template
    periodic = generate_alerts(30, seed=2, kinds=["periodic"])
    signs = {math.copysign(1, f["psfFlux"]) for a in periodic for f in a["prvDiaForcedSources"]}
    assert signs == {-1.0, 1.0}
    with pytest.raises(ValueError, match="unknown lightcurve kind"):
        generate_alerts(1, kinds=["quasar"])
    assert set(KINDS) == {"supernova", "periodic", "agn", "flat", "bogus"}


def test_successive_alerts_of_one_object_grow() -> None:
    stream = generate_alerts(4, seed=5, alerts_per_object=4)
    assert len({a["diaObject"]["diaObjectId"] for a in stream}) == 1
    times = [a["diaSource"]["midpointMjdTai"] for a in stream]
    assert times == sorted(times) and len(set(times)) == 4
    assert [len(a["prvDiaSources"]) for a in stream] == sorted(len(a["prvDiaSources"]) for a in stream)


def test_fast_enough_for_benchmarks() -> None:
    generate_alerts(10, seed=0)
    start = time.perf_counter()
    generate_alerts(300, seed=0)
    assert time.perf_counter() - start < 3.0  # typically ~0.2 s; generous for shared machines


def test_generated_alerts_exercise_every_computable_feature() -> None:
    from skystream.features import objects_row
    from skystream.features.columns import NULL_BY_DESIGN, OBJECT_COLUMN_NAMES

    rows = [objects_row(a) for a in generate_alerts(200, seed=9)]
    never = [c for c in OBJECT_COLUMN_NAMES if c not in NULL_BY_DESIGN and all(r[c] is None for r in rows)]
    assert never == []
    # recent activity in several bands: jumps and colour pairs are common, not freak events
    assert sum(r["jump2"] is not None for r in rows) > 40
    assert sum(r["latestPairColourMag"] is not None for r in rows) > 80
