"""The objects' sky index (issue 18): HEALPix ranges that cover a cone, and cone searches that give exactly
the brute-force answer at 1, 60 and 1000 arcsec, near the poles and across RA 0/360.

The cover is checked against points placed at known distances (exact spherical offsets); the cone
search runs over the real objects store on moto (the template's ``by-sky`` index) and is compared
with a brute-force pass over every stored object by the exact distance.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest
from moto_tables import template_tables

from skystream.domain.sky import (
    CELL_DEPTH,
    PIXEL_DEPTH,
    cell_of_pixel,
    cone_ranges,
    pixel_of,
    query_depth,
    separation_arcsec,
)
from skystream.services.cone import ConeSearch
from skystream.storage.objects import ObjectStore, object_item

RADII = (1.0, 60.0, 1000.0)
CENTRES = [(0.0, 0.0), (359.99999, 0.5), (0.00001, -0.5), (0.0, 89.99), (180.0, -89.99), (45.0, 90.0),
           (270.0, -90.0), (359.9, 88.0), (0.1, -88.5), (123.456, 41.2)]


def offset(ra: float, dec: float, distance_arcsec: float, angle_deg: float) -> tuple[float, float]:
    """The point ``distance_arcsec`` from (ra, dec) along position angle ``angle_deg`` (exact, spherical)."""
    d, a, d0 = math.radians(distance_arcsec / 3600), math.radians(angle_deg), math.radians(dec)
    dec2 = math.asin(math.sin(d0) * math.cos(d) + math.cos(d0) * math.sin(d) * math.cos(a))
    ra2 = math.radians(ra) + math.atan2(math.sin(a) * math.sin(d) * math.cos(d0),
                                        math.cos(d) - math.sin(d0) * math.sin(dec2))
    return math.degrees(ra2) % 360.0, math.degrees(dec2)


def test_separation_is_the_exact_great_circle_distance() -> None:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    rng = random.Random(3)
    for _ in range(200):
        a = (rng.uniform(0, 360), rng.uniform(-90, 90))
        b = (rng.uniform(0, 360), rng.uniform(-90, 90)) if rng.random() < 0.5 else offset(*a, rng.uniform(0, 2), 30)
        expected = SkyCoord(a[0] * u.deg, a[1] * u.deg).separation(SkyCoord(b[0] * u.deg, b[1] * u.deg)).arcsec
        assert separation_arcsec(*a, *b) == pytest.approx(expected, rel=1e-9, abs=1e-7)
    assert separation_arcsec(359.9999, 0.0, 0.0001, 0.0) == pytest.approx(0.72, rel=1e-6)  # across RA 0/360
    assert separation_arcsec(0.0, 90.0, 180.0, 89.0) == pytest.approx(3600.0, rel=1e-9)  # over the pole


@pytest.mark.parametrize("radius", RADII)
def test_the_ranges_cover_every_point_inside_the_cone_in_at_most_four_queries(radius: float) -> None:
    rng = random.Random(int(radius))
    for ra, dec in CENTRES + [(rng.uniform(0, 360), rng.uniform(-90, 90)) for _ in range(40)]:
        ranges = cone_ranges(ra, dec, radius)
        assert 1 <= len(ranges) <= 4, (ra, dec, radius, ranges)
        for _ in range(60):
            point = offset(ra, dec, radius * math.sqrt(rng.random()) * (1 - 1e-9), rng.uniform(0, 360))
            pixel = pixel_of(*point)
            assert any(r.cell == cell_of_pixel(pixel) and r.first <= pixel <= r.last for r in ranges), (ra, dec, point)


def test_the_query_depth_keeps_cells_wider_than_the_cone() -> None:
    assert [query_depth(r) for r in RADII] == [16, 10, 6]
    assert query_depth(5000.0) == CELL_DEPTH and query_depth(1e-6) == PIXEL_DEPTH


def test_items_carry_the_index_keys_when_they_have_a_position() -> None:
    row = {"diaObjectId": 5, "lastDiaSourceMjdTai": 61000.0, "ra": 359.9999, "decl": -89.5}
    item = object_item(row, {}).item
    pixel = pixel_of(359.9999, -89.5)
    assert item["sky_pix"] == {"N": str(pixel)} and item["sky_cell"] == {"N": str(pixel >> 46)}
    for ra, decl in ((None, 1.0), (1.0, None), (float("nan"), 1.0), (1.0, 91.0)):
        assert "sky_cell" not in object_item({**row, "ra": ra, "decl": decl}, {}).item


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, float, float]]]:
    """Objects in moto's objects table clustered around each centre at 0.3 to 1.5 radii, for each radius."""
    rng = random.Random(18)
    objects: list[tuple[int, float, float]] = []
    for ra, dec in CENTRES[:7]:
        for radius in RADII:
            for _ in range(12):
                objects.append((len(objects) + 1, *offset(ra, dec, radius * rng.uniform(0.3, 1.5), rng.uniform(0, 360))))
    with template_tables(monkeypatch):
        store = ObjectStore()
        for object_id, ra, decl in objects:
            store.upsert_if_newer({"diaObjectId": object_id, "ra": ra, "decl": decl, "lastDiaSourceMjdTai": 61000.0},
                                  {})
        yield objects


def test_cone_search_gives_the_brute_force_answer(stored: list[tuple[int, float, float]]) -> None:
    search = ConeSearch(ObjectStore())
    for ra, dec in CENTRES[:7]:
        for radius in RADII:
            result = search.search(ra % 360.0, dec, radius)
            expected = sorted((separation_arcsec(ra, dec, r, d), i) for i, r, d in stored
                              if separation_arcsec(ra, dec, r, d) <= radius)
            assert [m.dia_object_id for m in result.matches] == [i for _, i in expected], (ra, dec, radius)
            assert [m.separation_arcsec for m in result.matches] == pytest.approx([s for s, _ in expected])
            assert len(expected) >= 4  # the fixture put a few inside every cone
            assert result.ranges <= 4 and result.requests == result.ranges


def test_the_two_libraries_number_pixels_alike() -> None:
    """An object's pixel comes from ``healpix``, a cone's cells from healpix-geo: the same nested scheme."""
    from healpix_geo import nested

    rng = random.Random(29)
    points = [(rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))) for _ in range(3000)]
    points += [(0.0, 90.0), (0.0, -90.0), (359.9999999, 0.0), (45.0, 41.8103149), (90.0, -41.8103149)]
    for ra, dec in points:
        assert pixel_of(ra, dec) == int(nested.lonlat_to_healpix(ra, dec, PIXEL_DEPTH, num_threads=1)[0]), (ra, dec)
    assert pixel_of(360.0, 10.0) == pixel_of(0.0, 10.0)


def test_an_object_stored_before_the_index_enters_it_with_its_next_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    from skystream.aws import client

    with template_tables(monkeypatch) as env:
        store = ObjectStore()
        row = {"diaObjectId": 9, "ra": 10.0, "decl": -20.0, "lastDiaSourceMjdTai": 61000.0}
        old = {k: v for k, v in object_item(row, {}).item.items() if k not in ("sky_cell", "sky_pix")}
        client("dynamodb").put_item(TableName=env["OBJECTS_TABLE"], Item=old)  # as written before issue 18
        search = ConeSearch(store)
        assert search.search(10.0, -20.0, 1.0).matches == []
        assert store.upsert_if_newer({**row, "lastDiaSourceMjdTai": 61001.0}, {})
        assert [m.dia_object_id for m in search.search(10.0, -20.0, 1.0).matches] == [9]
