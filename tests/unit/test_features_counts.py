"""Counts and reliability summaries, worked out by hand."""

import pytest

from skystream.devtools.factory import make_alert
from skystream.features import objects_row

# (mjd, band, flux, err, reliability)
POINTS = [
    (60000.2, "g", 100.0, 10.0, 0.2),
    (60000.3, "r", -50.0, 10.0, 0.6),
    (60000.4, "g", 80.0, 10.0, 0.9),  # same night as 60000.2: int(mjd + 0.5) = 60000
    (60003.1, "z", 30.0, 10.0, 0.7),  # the trigger
]


def test_counts_and_reliability() -> None:
    row = objects_row(make_alert(POINTS))
    assert row["medianR"] == pytest.approx(0.65)  # median of 0.2, 0.6, 0.7, 0.9 = (0.6 + 0.7) / 2
    assert row["latestR"] == 0.7
    assert row["nSourcesGood"] == 3  # 0.6, 0.9, 0.7 are > 0.5
    assert row["nPosDiaSources"] == 3  # 100, 80, 30
    assert row["nPosDiaSourcesNights"] == 2  # nights 60000 (twice) and 60003
    assert [row[f"n{b}Sources"] for b in "ugrizy"] == [0, 2, 1, 0, 1, 0]
    assert row["firstDiaSourceMjdTai"] == 60000.2
    assert row["lastDiaSourceMjdTai"] == 60003.1


def test_first_detection_comes_from_the_object_when_older_than_the_history() -> None:
    row = objects_row(make_alert(POINTS, dia_object={"firstDiaSourceMjdTai": 59700.0}))
    assert row["firstDiaSourceMjdTai"] == 59700.0


def test_no_reliability_at_all_is_null_not_zero() -> None:
    row = objects_row(make_alert([(p[0], p[1], p[2], p[3], None) for p in POINTS]))
    assert row["medianR"] is None and row["latestR"] is None and row["nSourcesGood"] is None
    assert row["nPosDiaSources"] == 3
