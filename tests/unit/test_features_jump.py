"""Jump scores against the 10-70 day baseline, worked out by hand."""

import math

import pytest

from skystream.devtools.factory import make_alert
from skystream.features import objects_row

T = 60100.0  # the last detection


def _baseline(band: str, fluxes: list[float]) -> list[tuple]:
    # five forced points 60, 50, 40, 30 and 20 days before T: inside [T - 70, T - 10)
    return [(T - d, band, f) for d, f in zip((60, 50, 40, 30, 20), fluxes, strict=False)]


def test_two_bands_give_jump1_and_jump2() -> None:
    forced = (
        _baseline("g", [100.0, 110.0, 90.0, 105.0, 95.0])  # mean 100, sd sqrt(250 / 4)
        + _baseline("r", [200.0, 200.0, 210.0, 190.0, 200.0])  # mean 200, sd sqrt(200 / 4)
        + _baseline("i", [50.0, 60.0, 70.0, 80.0])  # only 4 points: no score for i
        + [(T - 5, "g", 1000.0)]  # forced, in the last 10 days: not a baseline point, not scored
    )
    detections = [(T - 5, "r", 230.0), (T - 3, "i", 900.0), (T, "g", 150.0)]
    row = objects_row(make_alert(detections, forced))
    assert row["jump1"] == pytest.approx(50 / math.sqrt(62.5))  # g: |150 - 100| / 7.906
    assert row["jump2"] == pytest.approx(30 / math.sqrt(50.0))  # r: |230 - 200| / 7.071


def test_one_band_gives_only_jump1_and_none_gives_nulls() -> None:
    forced = _baseline("g", [100.0, 110.0, 90.0, 105.0, 95.0])
    row = objects_row(make_alert([(T - 1, "g", 80.0), (T, "g", 70.0)], forced))
    assert row["jump1"] == pytest.approx(30 / math.sqrt(62.5))  # the larger of 20 and 30 over sd
    assert row["jump2"] is None
    row = objects_row(make_alert([(T, "g", 70.0)]))
    assert row["jump1"] is None and row["jump2"] is None
