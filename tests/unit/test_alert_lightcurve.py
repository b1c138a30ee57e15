"""Lite and full lightcurves, and the enriched record's wire form."""

import math

from skystream.alerts.enriched import EnrichedRecord
from skystream.alerts.lightcurve import full_alert, lite_and_full, lite_lightcurve
from skystream.devtools.factory import make_alert
from skystream.features import objects_row


def _alert() -> dict:
    return make_alert([(60000.0, "g", 10.0, 1.0, 0.8), (60002.0, "r", 30.0, 3.0, 0.9), (60001.0, "i", 20.0)],
                      forced=[(59990.0, "g", 1.0, 2.0), (59995.0, "r", -1.0, 2.0)])


def test_lite_has_the_lasair_fields_newest_first() -> None:
    lite = lite_lightcurve(_alert())
    assert lite["diaSourcesList"] == [
        {"psfFlux": 30.0, "psfFluxErr": 3.0, "midpointMjdTai": 60002.0, "band": "r", "reliability": 0.9},
        {"psfFlux": 20.0, "psfFluxErr": 100.0, "midpointMjdTai": 60001.0, "band": "i", "reliability": 0.9},
        {"psfFlux": 10.0, "psfFluxErr": 1.0, "midpointMjdTai": 60000.0, "band": "g", "reliability": 0.8},
    ]
    assert lite["diaForcedSourcesList"] == [
        {"psfFlux": -1.0, "psfFluxErr": 2.0, "midpointMjdTai": 59995.0, "band": "r"},
        {"psfFlux": 1.0, "psfFluxErr": 2.0, "midpointMjdTai": 59990.0, "band": "g"},
    ]


def test_full_alert_merges_sources_and_drops_cutouts() -> None:
    alert = _alert()
    alert["cutoutDifference"] = b"\x00" * 10
    full = full_alert(alert)
    assert set(full) == {"diaObject", "diaSourcesList", "diaForcedSourcesList"}
    assert [s["midpointMjdTai"] for s in full["diaSourcesList"]] == [60002.0, 60001.0, 60000.0]
    assert full["diaSourcesList"][0] is alert["diaSource"]
    assert full["diaObject"] is alert["diaObject"]


def test_lite_and_full_together_equal_each_alone() -> None:
    alert = _alert()
    lite, full = lite_and_full(alert)
    assert lite == lite_lightcurve(alert)
    assert full == full_alert(alert)
    assert [s["midpointMjdTai"] for s in full["diaForcedSourcesList"]] == [59995.0, 59990.0]


def test_enriched_record_round_trips_and_writes_nan_as_null() -> None:
    alert = _alert()
    record = EnrichedRecord(objects=objects_row(alert), lite=lite_lightcurve(alert), alert=full_alert(alert),
                            schema_version="11.1")
    back = EnrichedRecord.from_bytes(record.to_bytes())
    assert back.objects == record.objects and back.lite == record.lite and back.alert == record.alert
    assert back.schema_version == "11.1" and back.dia_object_id == 42
    # real alerts carry NaN in float fields; JSON has none: null, and the record still goes out
    alert["diaSource"]["apFlux"] = math.nan
    alert["cutoutScience"] = b"\x01\x02"
    odd = EnrichedRecord(objects={"x": math.inf}, lite={}, alert=full_alert(alert), schema_version="11.1")
    back = EnrichedRecord.from_bytes(odd.to_bytes())
    assert back.objects == {"x": None}
    assert back.alert["diaSourcesList"][0]["apFlux"] is None
    assert b"NaN" not in odd.to_bytes()
