"""The whole row: exactly the declared columns, honest NULLs, and every computable column filled."""

import math

from skystream.alerts.schema_files import record_field_types
from skystream.devtools.factory import make_alert
from skystream.devtools.generator import generate_alerts
from skystream.features import objects_row
from skystream.features.columns import NULL_BY_DESIGN, OBJECT_COLUMN_NAMES

T = 60100.0


def _rich_alert() -> dict:
    """Every band observed, two bands with a jump baseline, two colour pairs, a full diaObject."""
    summary = {name: 1.5 for name, kind in record_field_types("11.1", "diaObject").items() if "float" in str(kind)}
    summary |= {f"{b}_psfFluxNdata": 2 for b in "ugrizy"}
    forced = [(T - d, b, f) for b in "gr" for d, f in zip((60, 50, 40, 30, 20), (100, 110, 90, 105, 95), strict=True)]
    detections = [(T - 5, "u", 50.0), (T - 4, "z", 60.0), (T - 4 + 0.01, "y", 70.0), (T - 2, "r", 300.0),
                  (T - 1, "i", 80.0), (T - 1 + 0.01, "g", 120.0), (T, "g", 400.0, 10.0, 0.4)]
    return make_alert(detections, forced, dia_object=summary)


def test_every_column_not_null_by_design_is_computed_on_a_rich_lightcurve() -> None:
    row = objects_row(_rich_alert())
    assert list(row) == list(OBJECT_COLUMN_NAMES)
    missing = [name for name in OBJECT_COLUMN_NAMES if name not in NULL_BY_DESIGN and row[name] is None]
    assert missing == []
    assert all(row[name] is None for name in NULL_BY_DESIGN)


def test_nan_from_upstream_becomes_null() -> None:
    row = objects_row(make_alert([(T, "g", 100.0)], dia_object={"g_psfFluxMean": math.nan, "raErr": math.inf}))
    assert row["g_psfFluxMean"] is None and row["raErr"] is None


def test_generated_rows_have_the_declared_columns_and_no_nan() -> None:
    for alert in generate_alerts(40, seed=4):
        row = objects_row(alert)
        assert list(row) == list(OBJECT_COLUMN_NAMES)
        assert not any(isinstance(v, float) and not math.isfinite(v) for v in row.values())
        assert row["lastDiaSourceMjdTai"] == alert["diaSource"]["midpointMjdTai"]


def test_nan_in_points_is_treated_as_missing() -> None:
    nan = math.nan
    alert = make_alert([(T - 2, "g", 100.0, 10.0, 0.8), (T - 1, "r", nan, 10.0, nan), (T, "g", 300.0, 10.0, 0.6)])
    alert["prvDiaSources"].append({**alert["prvDiaSources"][0], "midpointMjdTai": nan})  # cannot be placed
    alert["diaObject"]["firstDiaSourceMjdTai"] = nan
    row = objects_row(alert)
    assert row["medianR"] == 0.7  # (0.8 + 0.6) / 2: the NaN reliability is not a value
    assert row["nPosDiaSources"] == 2 and row["nrSources"] == 1 and row["ngSources"] == 2
    assert row["r_psfFlux"] is None and row["r_latestMJD"] == T - 1
    assert row["firstDiaSourceMjdTai"] == T - 2
