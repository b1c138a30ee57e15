"""Galactic latitude and HTM index: hand-worked geometry plus SkyServer's published ids."""

import math

import pytest

from skystream.devtools.factory import make_alert
from skystream.features import objects_row
from skystream.features.position import NGP_DEC, NGP_RA, galactic_latitude, htm_index


def test_galactic_latitude_at_hand_worked_points() -> None:
    assert galactic_latitude(NGP_RA, NGP_DEC) == pytest.approx(90.0)
    assert galactic_latitude(NGP_RA + 180.0, -NGP_DEC) == pytest.approx(-90.0)
    # on the pole's meridian at dec 0: sin b = cos(dec_pole), so b = 90 - dec_pole
    assert galactic_latitude(NGP_RA, 0.0) == pytest.approx(90.0 - 27.12825)
    # 90 degrees of RA away from the pole at dec 0: cos(90) = 0, so b = 0
    assert galactic_latitude(NGP_RA + 90.0, 0.0) == pytest.approx(0.0, abs=1e-9)


def test_htm_ids_match_skyserver() -> None:
    # canonical level-20 ids from SDSS SkyServer dbo.fHtmEq (as quoted by desitarget's tests)
    assert htm_index(287.87029928, 16.22908364, 20) == 14015193368226
    assert htm_index(223.95814592, -53.49629596, 20) == 12043250829178
    assert htm_index(328.99793884, 24.40112077, 20) == 14104942108414
    assert htm_index(127.24251626, -23.14789754, 20) == 10813196528989


def test_htm_near_the_north_pole_follows_the_pole_corner() -> None:
    # x, y, z > 0 is root N3 (id 15) whose second vertex is the pole: child 1 (the corner at
    # vertex 1); that child lists the pole first, so from then on it is child 0 at every level
    assert htm_index(45.0, 89.9999, 0) == 15
    assert htm_index(45.0, 89.9999, 1) == 15 * 4 + 1
    assert htm_index(45.0, 89.9999, 3) == ((15 * 4 + 1) * 4 + 0) * 4 + 0


def test_row_carries_htm16_glat_and_no_extinction_yet() -> None:
    row = objects_row(make_alert([(60000.0, "r", 100.0)], ra=287.87029928, dec=16.22908364))
    assert row["htm16"] == 14015193368226 >> 8  # level 16 = level 20 without its last 4 levels (8 bits)
    sin_b = math.sin(math.radians(16.22908364)) * math.sin(math.radians(NGP_DEC)) + math.cos(
        math.radians(16.22908364)
    ) * math.cos(math.radians(NGP_DEC)) * math.cos(math.radians(287.87029928 - NGP_RA))
    assert row["glat"] == pytest.approx(math.degrees(math.asin(sin_b)))
    assert row["ebv"] is None  # no dust map: NULL by design
