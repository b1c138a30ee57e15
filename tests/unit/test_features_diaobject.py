"""Columns copied from Rubin's diaObject, with dec renamed decl."""

from skystream.devtools.factory import make_alert
from skystream.features import objects_row
from skystream.features.diaobject import DIAOBJECT_COLUMNS


def test_diaobject_columns_are_copied_and_dec_becomes_decl() -> None:
    summary = {"g_psfFluxMean": 123.5, "g_psfFluxMeanErr": 4.5, "r_psfFluxMaxSlope": -7.25, "raErr": 1e-5,
               "y_scienceFluxMeanErr": 3.0, "u_psfFluxNdata": 6, "validityStartMjdTai": 60001.5}
    row = objects_row(make_alert([(60001.5, "g", 100.0)], ra=10.25, dec=-7.5, object_id=777, dia_object=summary))
    assert (row["diaObjectId"], row["ra"], row["decl"]) == (777, 10.25, -7.5)
    assert "dec" not in row
    for name, value in summary.items():
        assert row[name] == value
    assert row["nDiaSources"] == 1
    untouched = {n for n in DIAOBJECT_COLUMNS if not n.endswith("Ndata")} - set(summary) - {"diaObjectId", "ra", "decl", "nDiaSources"}
    assert untouched and all(row[name] is None for name in untouched)  # null upstream: null here
    assert row["g_psfFluxNdata"] == 0  # an int that schemas 11.x never leave null
