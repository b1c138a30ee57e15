"""Latest per-band flux and time, and the triggering flux, on a hand-made lightcurve."""

from skystream.devtools.factory import make_alert
from skystream.features import objects_row


def test_latest_detection_per_band_and_the_trigger() -> None:
    alert = make_alert([(60000.1, "g", 100.0), (60001.2, "r", 250.0), (60002.3, "g", -40.0), (60003.4, "i", 500.0)])
    row = objects_row(alert)
    # g was seen twice: the later one (60002.3, -40) wins, negative flux included
    assert (row["g_psfFlux"], row["g_latestMJD"]) == (-40.0, 60002.3)
    assert (row["r_psfFlux"], row["r_latestMJD"]) == (250.0, 60001.2)
    assert (row["i_psfFlux"], row["i_latestMJD"]) == (500.0, 60003.4)
    for band in "uzy":  # never observed: NULL, not 0
        assert row[f"{band}_psfFlux"] is None and row[f"{band}_latestMJD"] is None
    assert row["latest_psfFlux"] == 500.0
