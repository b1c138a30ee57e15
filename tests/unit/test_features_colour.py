"""Colour pairs (< 40 minutes, two bands) and their blackbody temperature, by hand."""

import math

import pytest

from skystream.devtools.factory import make_alert
from skystream.features import objects_row

DETECTIONS = [
    (60000.000, "r", 1000.0),
    (60000.010, "g", 1500.0),  # 14.4 min after r: pair "gr"
    (60001.000, "i", 500.0),
    (60001.020, "r", 400.0),  # 28.8 min after i: pair "ri"
    (60002.000, "z", 300.0),
    (60002.050, "i", 300.0),  # 72 min: too far apart, no pair
    (60003.000, "y", 300.0),
    (60003.010, "y", 310.0),  # same band: no pair
]


def _planck_colour(blue_nm: float, red_nm: float, kelvin: float) -> float:
    """AB colour of a blackbody, from f_nu = nu^3 / (exp(h nu / k T) - 1), written out here."""
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23

    def f_nu(nm: float) -> float:
        nu = c / (nm * 1e-9)
        return nu**3 / (math.exp(h * nu / (k * kelvin)) - 1)

    return -2.5 * math.log10(f_nu(blue_nm) / f_nu(red_nm))


def test_latest_and_penultimate_pairs() -> None:
    row = objects_row(make_alert(DETECTIONS))
    assert row["latestPairColourBands"] == "ri"
    assert row["latestPairMJD"] == pytest.approx(60001.010)
    assert row["latestPairColourMag"] == pytest.approx(-2.5 * math.log10(400 / 500))  # r minus i = +0.242
    assert row["penultimatePairColourBands"] == "gr"
    assert row["penultimatePairMJD"] == pytest.approx(60000.005)
    assert row["penultimatePairColourMag"] == pytest.approx(-2.5 * math.log10(1500 / 1000))  # g minus r = -0.440
    # the temperatures reproduce the colours through Planck's law (r 622.3 nm, i 754.6 nm, g 482.7 nm)
    t_ri = row["latestPairColourTemp"] * 1000
    assert _planck_colour(622.3, 754.6, t_ri) == pytest.approx(row["latestPairColourMag"], abs=1e-6)
    t_gr = row["penultimatePairColourTemp"] * 1000
    assert _planck_colour(482.7, 622.3, t_gr) == pytest.approx(row["penultimatePairColourMag"], abs=1e-6)
    assert t_gr > t_ri  # bluer is hotter


def test_no_pair_and_negative_flux_pairs_are_null() -> None:
    row = objects_row(make_alert([(60000.0, "g", -100.0), (60000.01, "r", 500.0), (60001.0, "i", 10.0)]))
    for which in ("latest", "penultimate"):
        for part in ("MJD", "ColourMag", "ColourBands", "ColourTemp"):
            assert row[f"{which}Pair{part}"] is None


def test_a_colour_bluer_than_any_blackbody_has_no_temperature() -> None:
    # Rayleigh-Jeans limit for g-r is -2.5 log10((622.3 / 482.7)^2) = -0.55; -2.0 is bluer still
    flux_r = 1000.0
    flux_g = flux_r * 10 ** (2.0 / 2.5)
    row = objects_row(make_alert([(60000.0, "g", flux_g), (60000.01, "r", flux_r)]))
    assert row["latestPairColourMag"] == pytest.approx(-2.0)
    assert row["latestPairColourTemp"] is None
