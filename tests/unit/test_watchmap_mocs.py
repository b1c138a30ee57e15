"""Watchmaps (issue 19): reading MOCs (ASCII, JSON; FITS refused), cone-built MOCs, contains / not contains.

Cone-built MOCs are checked against the cone's definition with exact distances (astropy): positions
well inside the radius are contained, positions further than the radius plus a cell's diagonal are not,
near both poles and across RA 0/360. Cell-given MOCs are checked against the HEALPix cell each
position falls in at the MOC's depth (computed by the ``healpix`` package independently of the ranges).
"""

from __future__ import annotations

import random

import healpix
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from skystream.domain.errors import WatchmapError
from skystream.domain.sky import BASE_CELL_ARCSEC, pixel_of
from skystream.domain.watchmaps import (
    FITS_REFUSAL,
    MAX_RANGES,
    decode,
    encode,
    from_cone,
    parse,
    parse_ascii,
    parse_json,
    to_ascii,
    to_json,
)

pytestmark = pytest.mark.unit


def _cell(ra: float, dec: float, depth: int) -> int:
    return int(healpix.ang2pix(2**depth, ra % 360.0, dec, nest=True, lonlat=True))


def test_ascii_and_json_forms_read_to_the_same_moc_and_export_reads_back() -> None:
    text = "3/1-3 5\n4/100, 101 6/"
    moc = parse_ascii(text)
    assert moc == parse_json('{"3": [1, 2, 3, 5], "4": [100, 101]}').__class__(moc.starts, moc.ends, 6)
    assert parse_json({"3": [1, 2, 3, 5], "4": [100, 101]}).starts == moc.starts
    assert moc.depth == 6 and moc.ranges == 3
    assert parse(to_ascii(moc)) == moc
    assert to_json(moc) == {"3": [1, 2, 3, 5], "4": [100, 101]}
    assert decode(encode(moc)) == moc
    # depth-4 cells 4..15 are depth-3 cells 1..3: merged into one range, exported as the coarser cells
    assert to_ascii(parse("4/4-15")) == "3/1-3 4/"
    # the whole sky
    assert parse("0/0-11").sky_fraction() == 1.0


def test_contains_exactly_the_positions_in_its_cells() -> None:
    rng = random.Random(7)
    cells4 = set(rng.sample(range(12 * 4**4), 300))
    cells7 = set(rng.sample(range(12 * 4**7), 3000))
    moc = parse_json({"4": sorted(cells4), "7": sorted(cells7)})
    ras = [rng.uniform(0, 360) for _ in range(4000)] + [359.9999, 0.0, 0.00001] * 10
    decs = [float(np.degrees(np.arcsin(rng.uniform(-1, 1)))) for _ in range(4000)] + [89.999, -89.999, 0.0] * 10
    inside = 0
    for ra, dec in zip(ras, decs, strict=True):
        expected = _cell(ra, dec, 4) in cells4 or _cell(ra, dec, 7) in cells7
        assert moc.contains(ra, dec) is expected, (ra, dec)
        inside += expected
    assert inside > 100
    pixels = [pixel_of(ra, dec) for ra, dec in zip(ras, decs, strict=True)]
    assert list(moc.contains_pixels(pixels)) == [moc.contains_pixel(p) for p in pixels]


@pytest.mark.parametrize(("ra", "dec", "radius"), [
    (0.0, 89.7, 1800.0),       # the north pole inside the cone
    (180.0, -89.95, 600.0),    # the south pole inside
    (359.95, 10.0, 900.0),     # across RA 0/360
    (0.02, -45.0, 60.0),       # across RA 0/360, small
    (123.4, 5.0, 36000.0),     # 10 degrees
])
def test_a_cone_built_moc_holds_the_cone_and_little_more(ra: float, dec: float, radius: float) -> None:
    moc = from_cone(ra, dec, radius)
    diagonal = 2.0 * BASE_CELL_ARCSEC / 2**moc.depth  # a cell's diagonal, generously (cells are not square)
    assert diagonal <= 0.1 * radius or moc.depth == 16
    rng = np.random.default_rng(3)
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    angles = rng.uniform(0, 360, 3000) * u.deg
    inner = centre.directional_offset_by(angles[:1500], rng.uniform(0, 0.98, 1500) * radius * u.arcsec)
    outer = centre.directional_offset_by(angles[1500:], (radius + diagonal) * rng.uniform(1.01, 3, 1500) * u.arcsec)
    near = SkyCoord(np.concatenate([inner.ra.deg, outer.ra.deg]) * u.deg,
                    np.concatenate([inner.dec.deg, outer.dec.deg]) * u.deg)
    separation = centre.separation(near).arcsec
    got = moc.contains_pixels([pixel_of(float(a), float(d)) for a, d in zip(near.ra.deg, near.dec.deg, strict=True)])
    assert all(got[separation <= radius]), "a position inside the cone is outside its MOC"
    assert not any(got[separation > radius + diagonal]), "a position beyond the cone's cells is inside its MOC"
    assert (separation <= radius).sum() >= 1500 and (separation > radius + diagonal).sum() >= 1400


@pytest.mark.parametrize(("text", "message"), [
    ("", "the MOC is empty"),
    ("1-3", "token 1 '1-3': a cell before any depth"),
    ("3/1-3 x", "token 2 'x': not a cell number or range"),
    ("3/5-2", "token 1 '3/5-2': range 5-2 runs backwards"),
    ("3/768", "cell 768 does not exist at depth 3 (cells are 0..767)"),
    ("30/1", "depth 30 is deeper than 29"),
    ("3/1 4/-2", "token 2 '4/-2': not a cell number"),
    ('{"3": [1, "a"]}', "key '3', item 1: 'a' is not a cell number"),
    ('{"x": [1]}', "key 'x': a depth is a whole number"),
    ('{"3": 1}', "key '3': the cells of a depth are a list"),
    ('{"3": [1,', "the MOC is not valid JSON"),
    ("[1, 2]", "token 1 '[1': a cell before any depth"),
    ("{}", "the MOC is empty"),
    ("SIMPLE  =                    T", "FITS MOCs are not supported yet"),
])
def test_bad_mocs_are_refused_saying_where_and_what(text: str, message: str) -> None:
    with pytest.raises(WatchmapError) as caught:
        parse(text)
    assert message in str(caught.value)


def test_fits_bytes_are_refused_with_the_conversion_to_use() -> None:
    with pytest.raises(WatchmapError, match=r"MOC\.from_fits") as caught:
        parse(b"SIMPLE  =                    T / conforms to FITS standard" + b"\x00" * 100)
    assert str(caught.value) == FITS_REFUSAL


def test_more_ranges_than_the_limit_are_refused_and_the_limit_itself_is_kept() -> None:
    every_other = " ".join(str(2 * i) for i in range(MAX_RANGES))
    assert parse("12/" + every_other).ranges == MAX_RANGES
    with pytest.raises(WatchmapError, match=f"more than the {MAX_RANGES}"):
        parse("12/" + every_other + f" {2 * MAX_RANGES}")


@pytest.mark.parametrize(("args", "message"), [
    ((10.0, 95.0, 60.0), "outside -90..90"),
    ((10.0, 0.0, 0.0), "cone radius 0.0 arcsec"),
    ((10.0, 0.0, 400000.0), "cone radius 400000.0 arcsec"),
    ((float("nan"), 0.0, 60.0), "cone ra nan"),
])
def test_bad_cones_are_refused(args: tuple[float, float, float], message: str) -> None:
    with pytest.raises(WatchmapError, match=message):
        from_cone(*args)


def test_the_store_keeps_a_moc_of_the_largest_size_beside_watchlists_in_one_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from moto_tables import template_tables

    from skystream.domain.errors import UnknownWatchmap
    from skystream.domain.watchlists import Source
    from skystream.storage.watchlists import WatchlistStore
    from skystream.storage.watchmaps import WatchmapStore

    rng = random.Random(5)
    cells = sorted(rng.sample(range(12 * 4**12), MAX_RANGES))
    big_moc = parse_json({"12": cells})
    assert big_moc.ranges > MAX_RANGES // 2
    with template_tables(monkeypatch):
        store, lists = WatchmapStore(), WatchlistStore()
        listed = lists.add(owner=7, name="list", description="", radius=2.0, public=False, active=True,
                           sources=[Source(1, 1.0, 2.0, "a", 2.0)])
        big = store.add(owner=7, name="big", description="d", public=False, active=True, moc=big_moc)
        small = store.add(owner=8, name="small", description="", public=True, active=True, moc=parse("0/3"))
        assert (listed.wl_id, big.ar_id, small.ar_id) == (1, 1, 2)  # ids counted apart
        assert store.moc(big.ar_id) == big_moc and store.moc(small.ar_id) == parse("0/3")
        assert [(w.ar_id, w.owner, w.ranges, w.public) for w in store.all()] == [
            (1, 7, big_moc.ranges, False), (2, 8, 1, True)]
        assert small.sky_fraction == pytest.approx(1 / 12) and [w.wl_id for w in lists.all()] == [1]
        assert set(store.many([1, 2, 3])) == {1, 2}
        assert store.update(2, {"active": False, "name": "renamed"}).name == "renamed"
        assert store.get(2).active is False and store.get(2).version == 2
        store.delete(1)
        assert store.get(1) is None and [w.ar_id for w in store.all()] == [2] and lists.sources(1)
        with pytest.raises(UnknownWatchmap):
            store.moc(1)
        with pytest.raises(UnknownWatchmap):
            store.update(1, {"active": True})
