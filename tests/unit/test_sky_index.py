"""The objects' sky index (issue 18): HEALPix ranges that cover a cone, and cone searches that give exactly
the brute-force answer at 0.5, 1, 60 and 1000 arcsec, near the poles and across RA 0/360; index keys that
stay the same while an object's position moves inside its ~3.2" pixel (so rewriting the item does not
rewrite the index).

The cover is checked against points placed at known distances (exact spherical offsets); the cone
search runs over the real objects store on moto (the template's ``by-sky`` index) and is compared
with a brute-force pass over every stored object by the exact distance.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from moto_tables import template_tables

from skystream.domain.sky import (
    CELL_DEPTH,
    KEY_DEPTH,
    PIXEL_DEPTH,
    cell_of_pixel,
    cone_cells,
    cone_ranges,
    pixel_of,
    query_depth,
    separation_arcsec,
    sky_attributes,
)
from skystream.local.metering import RequestMeter
from skystream.services.cone import ConeSearch
from skystream.storage.objects import ObjectStore, object_item

RADII = (0.5, 1.0, 60.0, 1000.0)
KEY_SPAN = 4 ** (PIXEL_DEPTH - KEY_DEPTH)  # depth-29 indices in one depth-16 pixel
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
            keys = sky_attributes(*point)  # what the index holds: the quantised key
            assert any(r.cell == keys["sky_cell"] and r.first <= keys["sky_pix"] <= r.last for r in ranges), (
                ra, dec, point)


@pytest.mark.parametrize("radius", (*RADII, 0.01, 0.2))
def test_every_range_is_whole_key_pixels_so_a_key_is_in_it_exactly_when_its_pixel_is_covered(radius: float) -> None:
    """Ranges never cut a depth-16 pixel (the query depth is capped at the keys' depth), whatever the radius."""
    rng = random.Random(int(radius * 100))
    depth = query_depth(radius)
    for ra, dec in CENTRES + [(rng.uniform(0, 360), rng.uniform(-90, 90)) for _ in range(20)]:
        ranges = cone_ranges(ra, dec, radius)
        assert all(r.first % KEY_SPAN == 0 and (r.last + 1) % KEY_SPAN == 0 for r in ranges), (ra, dec, radius)
        covered = set(cone_cells(ra, dec, radius, depth))
        for _ in range(30):
            point = offset(ra, dec, 3 * radius + 10 * rng.random(), rng.uniform(0, 360))
            keys = sky_attributes(*point)
            in_ranges = any(r.cell == keys["sky_cell"] and r.first <= keys["sky_pix"] <= r.last for r in ranges)
            assert in_ranges == (pixel_of(*point) >> 2 * (PIXEL_DEPTH - depth) in covered), (ra, dec, radius, point)


def test_the_query_depth_keeps_cells_wider_than_the_cone_and_no_deeper_than_the_keys() -> None:
    assert [query_depth(r) for r in RADII] == [16, 16, 10, 6]
    assert query_depth(5000.0) == CELL_DEPTH and query_depth(1e-6) == KEY_DEPTH == 16
    assert query_depth(0.0) == KEY_DEPTH  # issue 18's index went to depth 29 here; its keys are depth 16 now


def test_index_keys_stay_while_the_position_moves_inside_its_pixel_and_change_when_it_crosses() -> None:
    """An object's mean position moves a little with each alert; its keys (so its index entry) do not."""
    rng = random.Random(16)
    kept = moved = 0
    for ra, dec in CENTRES + [(rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))) for _ in range(300)]:
        keys = sky_attributes(ra, dec)
        assert keys["sky_pix"] % KEY_SPAN == 0 and keys["sky_cell"] == cell_of_pixel(keys["sky_pix"])
        assert keys["sky_pix"] // KEY_SPAN == pixel_of(ra, dec) // KEY_SPAN  # its own depth-16 pixel
        for _ in range(5):
            near = offset(ra, dec, 0.1, rng.uniform(0, 360))
            if pixel_of(*near) // KEY_SPAN == pixel_of(ra, dec) // KEY_SPAN:  # still inside the same ~3.2" pixel
                assert sky_attributes(*near) == keys, (ra, dec, near)
                kept += 1
            else:  # crossed into another pixel: other keys
                assert sky_attributes(*near)["sky_pix"] != keys["sky_pix"], (ra, dec, near)
                moved += 1
        far = offset(ra, dec, 10.0, rng.uniform(0, 360))  # 10" is always another pixel
        assert sky_attributes(*far) != keys, (ra, dec, far)
    assert kept > 0.9 * (kept + moved) and moved > 0  # both cases happened, staying far the commoner


def test_a_position_moved_by_a_tenth_of_an_arcsec_keeps_the_keys_of_its_pixel() -> None:
    """A fixed case: the centre of a depth-16 pixel, moved 0.1" four ways, keeps its keys; moved 4", not."""
    from healpix_geo import nested

    for pixel16 in (0, 123_456_789, 12 * 4**16 - 1, 3 * 4**16 + 77):
        lon, lat = nested.healpix_to_lonlat([pixel16], KEY_DEPTH, num_threads=1)
        ra, dec = float(lon[0]), float(lat[0])
        keys = sky_attributes(ra, dec)
        assert keys["sky_pix"] == pixel16 * KEY_SPAN
        for angle in (0.0, 90.0, 180.0, 270.0):
            assert sky_attributes(*offset(ra, dec, 0.1, angle)) == keys, (pixel16, angle)
            assert sky_attributes(*offset(ra, dec, 4.0, angle)) != keys, (pixel16, angle)


def test_items_carry_the_index_keys_when_they_have_a_position() -> None:
    row = {"diaObjectId": 5, "lastDiaSourceMjdTai": 61000.0, "ra": 359.9999, "decl": -89.5}
    item = object_item(row, {}).item
    pixel = pixel_of(359.9999, -89.5) >> 26 << 26  # its depth-16 pixel's first depth-29 sub-pixel
    assert item["sky_pix"] == {"N": str(pixel)} and item["sky_cell"] == {"N": str(pixel >> 46)}
    assert item["ra"] == {"N": "359.9999"} and item["decl"] == {"N": "-89.5"}  # what the cone search reads
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
            assert result.ranges <= 4 and result.gets == math.ceil(result.scanned / 100)
            assert result.requests == result.ranges + result.gets


def test_a_cone_reports_the_requests_it_made(stored: list[tuple[int, float, float]]) -> None:
    """Index Queries and the BatchGetItem calls for the positions, as counted at the boto3 client."""
    from skystream import aws

    search = ConeSearch(ObjectStore())
    for ra, dec, radius in ((0.0, 89.99, 1000.0), (359.99999, 0.5, 60.0), (0.0, 0.0, 1.0)):
        with RequestMeter([aws.client("dynamodb")]) as meter:
            result = search.search(ra, dec, radius)
        assert meter.usage.requests["dynamodb.Query"] == result.requests - result.gets == result.ranges
        assert meter.usage.requests["dynamodb.BatchGetItem"] == result.gets
        assert sum(meter.usage.requests.values()) == result.requests and result.gets >= 1


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


def test_rewriting_an_object_a_little_moved_leaves_its_index_entry_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """What decides whether DynamoDB writes (and bills) the ``by-sky`` index on an item write: a changed key or
    a changed projected attribute. Moto does not bill, so this asserts those: the index projects keys only,
    and the batched ingest write of a newer alert 0.1" away keeps ``sky_cell``/``sky_pix`` while ``ra`` moves."""
    from skystream import aws

    with template_tables(monkeypatch) as env:
        table = env["OBJECTS_TABLE"]
        dynamodb = aws.client("dynamodb")
        (index,) = [i for i in dynamodb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]
                    if i["IndexName"] == "by-sky"]
        assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}  # ra/decl moving writes no index entry

        store = ObjectStore()
        ra, dec = 150.0001, 30.0002
        moved = offset(ra, dec, 0.1, 45.0)
        assert pixel_of(ra, dec) >> 26 == pixel_of(*moved) >> 26  # the move stays inside one depth-16 pixel

        def held() -> dict[str, Any]:
            return dynamodb.get_item(TableName=table, Key={"diaObjectId": {"N": "7"}})["Item"]

        row = {"diaObjectId": 7, "ra": ra, "decl": dec, "lastDiaSourceMjdTai": 61000.0}
        assert store.put_newest([(store.item(row, {}, dia_source_id=1), None)]) == {7}
        before = held()
        newer = {**row, "ra": moved[0], "decl": moved[1], "lastDiaSourceMjdTai": 61000.5}
        assert store.put_newest([(store.item(newer, {}, dia_source_id=2), None)]) == {7}
        after = held()
        assert after["ra"] != before["ra"] and after["diaSourceId"] == {"N": "2"}  # the item was rewritten, moved
        assert {k: after[k] for k in ("sky_cell", "sky_pix")} == {k: before[k] for k in ("sky_cell", "sky_pix")}
        assert [m.dia_object_id for m in ConeSearch(store).search(*moved, 0.5).matches] == [7]

        far = offset(ra, dec, 5.0, 45.0)  # into another pixel: the keys move, and the cone finds it there
        assert store.put_newest([(store.item({**row, "ra": far[0], "decl": far[1], "lastDiaSourceMjdTai": 61001.0},
                                             {}, dia_source_id=3), None)]) == {7}
        assert held()["sky_pix"] != before["sky_pix"]
        assert [m.dia_object_id for m in ConeSearch(store).search(*far, 0.5).matches] == [7]
        assert ConeSearch(store).search(ra, dec, 0.5).matches == []
