"""The history rows of one alert (``skystream.history.rows``): three tables, the forced rule, nights, NaN."""

from __future__ import annotations

import math

from skystream.devtools.factory import make_alert
from skystream.domain.objects import night_of
from skystream.domain.sky import pixel_of
from skystream.features.columns import OBJECT_COLUMNS
from skystream.history.rows import BatchRows, UnplaceableAlert, alert_rows, new_forced
from skystream.history.schema import DETECTIONS, FORCED_PHOTOMETRY, OBJECTS_HISTORY
from skystream.services.ingest import enrich


def _rows_of(alert: dict) -> tuple[dict, object]:
    objects = enrich(alert, "11.1").objects
    return objects, alert_rows(objects, alert)


def test_each_table_gets_exactly_its_columns_with_the_alert_and_its_position() -> None:
    alert = make_alert([(60100.1, "g", 1000.0), (60101.2, "r", 1500.0)], object_id=7, ra=150.0, dec=2.0)
    objects, rows = _rows_of(alert)
    assert list(rows.objects_history) == list(OBJECTS_HISTORY.column_names)
    assert list(rows.detection) == list(DETECTIONS.column_names)
    assert {c.name: rows.objects_history[c.name] for c in OBJECT_COLUMNS} == {
        c.name: objects.get(c.name) for c in OBJECT_COLUMNS}
    assert rows.objects_history["diaSourceId"] == alert["diaSource"]["diaSourceId"] == 7001
    assert rows.objects_history["alertMjdTai"] == 60101.2
    assert rows.objects_history["skyPixel"] == pixel_of(objects["ra"], objects["decl"])
    assert rows.detection["skyPixel"] == pixel_of(150.0, 2.0)
    assert (rows.detection["diaObjectId"], rows.detection["band"], rows.detection["psfFlux"]) == (7, "r", 1500.0)
    assert rows.night == night_of(60101.2) == 60101


def test_forced_rows_are_those_newer_than_the_previous_detection() -> None:
    alert = make_alert([(60100.0, "g", 1.0), (60105.0, "g", 2.0), (60110.0, "r", 3.0)],
                       forced=[(60099.0, "g", 0.1), (60104.0, "g", 0.2), (60106.0, "g", 0.3), (60108.0, "r", 0.4)])
    _, rows = _rows_of(alert)
    assert [f["midpointMjdTai"] for f in rows.forced] == [60106.0, 60108.0]  # after 60105, the last earlier one
    assert all(list(f) == list(FORCED_PHOTOMETRY.column_names) for f in rows.forced)


def test_a_first_detection_brings_all_its_forced_photometry_and_a_later_prv_point_is_not_earlier() -> None:
    alert = make_alert([(60110.0, "r", 3.0)], forced=[(60090.0, "g", 0.1), (60100.0, "g", 0.2)])
    assert [f["midpointMjdTai"] for f in new_forced(alert)] == [60090.0, 60100.0]
    # a prvDiaSource newer than the trigger (out of order) is not "the previous detection"
    alert["prvDiaSources"] = [dict(alert["diaSource"], midpointMjdTai=60120.0, diaSourceId=1)]
    assert len(new_forced(alert)) == 2


def test_rows_of_a_batch_split_by_night_one_list_per_table_and_night() -> None:
    batch = BatchRows()
    for i, mjd in enumerate([60100.2, 60100.4, 60101.6]):
        alert = make_alert([(mjd - 3, "g", 1.0), (mjd, "g", 2.0)], forced=[(mjd - 1, "g", 1.5)], object_id=100 + i)
        batch.add(_rows_of(alert)[1])
    assert sorted((t, n, len(r)) for (t, n), r in batch.by_file.items()) == [
        ("detections", 60100, 2), ("detections", 60102, 1), ("forced_photometry", 60100, 2),
        ("forced_photometry", 60102, 1), ("objects_history", 60100, 2), ("objects_history", 60102, 1)]
    assert batch.count("objects_history") == 3


def test_nan_and_infinities_become_null_and_integers_are_integers() -> None:
    alert = make_alert([(60100.0, "g", 1.0), (60101.0, "g", float("nan"))], forced=[(60100.5, "g", float("inf"))])
    alert["diaSource"]["visit"] = 1234.0  # an integral float (JSON 1234.0) in a BIGINT column
    alert["diaSource"]["detector"] = 3.5  # not an integer: cannot be held, is null
    objects = enrich(alert, "11.1").objects
    objects["ra"] = float("nan")
    rows = alert_rows(objects, alert)
    assert rows.detection["psfFlux"] is None and rows.forced[0]["psfFlux"] is None
    assert rows.detection["visit"] == 1234 and isinstance(rows.detection["visit"], int)
    assert rows.detection["detector"] is None
    assert rows.objects_history["ra"] is None and rows.objects_history["skyPixel"] is None  # no position, no pixel
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in rows.objects_history.values())


def test_an_alert_without_a_time_cannot_be_placed() -> None:
    alert = make_alert([(60100.0, "g", 1.0)])
    alert["diaSource"]["midpointMjdTai"] = float("nan")
    try:
        alert_rows({"diaObjectId": 42}, alert)
    except UnplaceableAlert as exc:
        assert "midpointMjdTai" in str(exc)
    else:
        raise AssertionError("an alert with no time was placed")


def test_the_full_form_the_archive_gives_back_makes_the_same_rows_as_the_rubin_form() -> None:
    from skystream.alerts.lightcurve import full_alert

    alert = make_alert([(60100.0, "g", 1.0), (60105.0, "g", 2.0), (60110.0, "r", 3.0)],
                       forced=[(60099.0, "g", 0.1), (60106.0, "g", 0.3), (60108.0, "r", 0.4)], object_id=5)
    objects = enrich(alert, "11.1").objects
    raw, full = alert_rows(objects, alert), alert_rows(objects, full_alert(alert))
    assert full.detection["diaSourceId"] == alert["diaSource"]["diaSourceId"]
    assert (full.night, full.objects_history, full.detection) == (raw.night, raw.objects_history, raw.detection)
    assert full.forced == raw.forced and len(full.forced) == 2
