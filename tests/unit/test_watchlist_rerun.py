"""Rerunning a watchlist or a watchmap over the stored objects (issue 19): the objects sit in moto's objects table
from the template (its ``by-sky`` index), written through ``ObjectStore``; the rerun's hits are compared with brute
force over every stored object (astropy separations for a watchlist, ``Moc.contains`` per position for a watchmap),
with sources near both poles and across RA 0/360, and the index requests counted at the boto3 client."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest
from fakes import MemoryObjects, MemoryWatchlists, MemoryWatchmaps
from moto_tables import template_tables

from skystream.domain.errors import UnknownWatchlist, UnknownWatchmap, WatchlistError, WatchmapError
from skystream.domain.sky import KEY_DEPTH, PIXEL_DEPTH, PixelRange, key_ranges, merge_ranges, pixel_of, sky_attributes
from skystream.domain.users import User
from skystream.domain.watchmaps import parse
from skystream.local.metering import RequestMeter
from skystream.services import watchlists as watchlist_service
from skystream.services.watchlists import NewWatchlist, WatchlistService
from skystream.services.watchmaps import ConeArea, NewWatchmap, WatchmapService
from skystream.storage.objects import ObjectStore

pytestmark = pytest.mark.unit

ALICE, BOB = User(1, "alice", "a@x"), User(2, "bob", "b@x")
SOURCES = [(0.0, 89.99, "north", 900.0), (123.4, -89.95, "south", 1800.0), (359.9995, 10.0, "wrap", 60.0),
           (0.0004, -20.0, "wrap2", 5.0), (150.0, 30.0, "one", 1.0), (210.0, 45.0, "wide", 1200.0)]


def offset(ra: float, dec: float, distance_arcsec: float, angle_deg: float) -> tuple[float, float]:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    moved = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(angle_deg * u.deg, distance_arcsec * u.arcsec)
    return float(moved.ra.deg), float(moved.dec.deg)


@pytest.fixture(scope="module")
def positions() -> list[tuple[int, float, float]]:
    """Objects around each source at 0.2 to 1.6 radii, plus some anywhere."""
    rng = random.Random(19)
    placed: list[tuple[int, float, float]] = []
    for ra, dec, _name, radius in SOURCES:
        for _ in range(25):
            placed.append((len(placed) + 1, *offset(ra, dec, radius * rng.uniform(0.2, 1.6), rng.uniform(0, 360))))
    for _ in range(100):
        placed.append((len(placed) + 1, rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))))
    return placed


@pytest.fixture()
def stored(monkeypatch: pytest.MonkeyPatch, positions: list[tuple[int, float, float]]) -> Iterator[ObjectStore]:
    with template_tables(monkeypatch):
        store = ObjectStore()
        rows = [{"diaObjectId": i, "ra": ra, "decl": dec, "lastDiaSourceMjdTai": 61000.0} for i, ra, dec in positions]
        store.put_newest([(store.item(row, {}, dia_source_id=row["diaObjectId"]), None) for row in rows])
        yield store


def watchlist_text() -> str:
    return "ra, dec, name, radius\n" + "".join(f"{ra}, {dec}, {name}, {r}\n" for ra, dec, name, r in SOURCES)


def test_a_watchlist_rerun_gives_the_brute_force_hits(stored: ObjectStore,
                                                      positions: list[tuple[int, float, float]]) -> None:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from skystream import aws

    service = WatchlistService(MemoryWatchlists(), stored)
    wl = service.create(ALICE, NewWatchlist(name="mixed", text=watchlist_text()))
    with RequestMeter([aws.client("dynamodb")]) as meter:
        result = service.rerun(ALICE, wl.wl_id)
    objects = SkyCoord([p[1] for p in positions] * u.deg, [p[2] for p in positions] * u.deg)
    expected = []
    for cone_id, (ra, dec, name, radius) in enumerate(SOURCES, start=1):
        arcsec = SkyCoord(ra * u.deg, dec * u.deg).separation(objects).arcsec
        expected += [(positions[i][0], cone_id, name, float(arcsec[i])) for i in range(len(positions))
                     if arcsec[i] <= radius]
    expected.sort()
    got = [(h["diaObjectId"], h["cone_id"], h["name"], h["arcsec"]) for h in result.hits]
    assert [g[:3] for g in got] == [e[:3] for e in expected] and len(expected) >= 60
    assert [g[3] for g in got] == pytest.approx([e[3] for e in expected], abs=1e-6)
    assert {h["wl_id"] for h in result.hits} == {wl.wl_id} and result.truncated is False
    assert {name for _, _, name, _ in expected} == {s[2] for s in SOURCES}  # every source has hits
    assert result.candidates < len(positions)  # the index read part of the sky, not every object
    assert meter.usage.requests["dynamodb.Query"] == result.queries == result.ranges
    assert meter.usage.requests["dynamodb.BatchGetItem"] == result.gets == math.ceil(result.candidates / 100)
    assert "dynamodb.Scan" not in meter.usage.requests


def test_a_watchmap_rerun_gives_the_brute_force_hits(stored: ObjectStore, positions: list[tuple[int, float, float]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A cone MOC around the north pole, one across RA 0/360, and depth-20 cells (finer than the index's keys, so
    the ranges must be widened to whole key pixels) around the south pole's objects; then the candidates' cap,
    refused after the Queries and before any BatchGetItem."""
    from skystream import aws

    service = WatchmapService(MemoryWatchmaps(), stored)
    fine = sorted({pixel_of(ra, dec) >> 18 for _, ra, dec in positions[25:50]})  # depth-20 cells of "south"
    mocs = [service.create(ALICE, NewWatchmap(name="pole", cone=ConeArea(ra=0.0, dec=89.99, radius=900.0))),
            service.create(ALICE, NewWatchmap(name="wrap", cone=ConeArea(ra=359.9995, dec=10.0, radius=60.0))),
            service.create(ALICE, NewWatchmap(name="fine", moc="20/" + " ".join(map(str, fine))))]
    for made in mocs:
        moc = service.store.moc(made.ar_id)
        with RequestMeter([aws.client("dynamodb")]) as meter:
            result = service.rerun(ALICE, made.ar_id)
        expected = [(i, made.ar_id) for i, ra, dec in positions if moc.contains(ra, dec)]
        assert [(h["diaObjectId"], h["ar_id"]) for h in result.hits] == expected and len(expected) >= 10, made.name
        assert meter.usage.requests["dynamodb.Query"] == result.queries == result.ranges
        assert meter.usage.requests["dynamodb.BatchGetItem"] == result.gets
        assert "dynamodb.Scan" not in meter.usage.requests
    assert len(expected) == 25  # every object of "south": each in its own depth-20 cell

    monkeypatch.setattr(watchlist_service, "MAX_RERUN_CANDIDATES", result.candidates - 1)
    with RequestMeter([aws.client("dynamodb")]) as meter, pytest.raises(WatchmapError) as refused:
        service.rerun(ALICE, made.ar_id)
    assert str(refused.value) == (f"watchmap {made.ar_id} covers {result.candidates} stored objects; a rerun reads "
                                  f"the positions of at most {result.candidates - 1} (split it, or use it in a "
                                  "filter, which matches each new alert)")
    assert meter.usage.requests["dynamodb.Query"] == result.queries and "dynamodb.BatchGetItem" not in meter.usage.requests


def test_key_ranges_widen_to_whole_key_pixels_and_split_at_cells() -> None:
    shift = 2 * (PIXEL_DEPTH - KEY_DEPTH)
    rng = random.Random(3)
    for _ in range(300):
        ra, dec = rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))
        pixel = pixel_of(ra, dec)
        keys = sky_attributes(ra, dec)
        (r,) = key_ranges(pixel, pixel + 1)  # a single depth-29 pixel: the key's whole depth-16 pixel
        assert (r.cell, r.first, r.last) == (keys["sky_cell"], keys["sky_pix"], keys["sky_pix"] + (1 << shift) - 1)
    whole = 2 * (PIXEL_DEPTH - 6)
    parts = key_ranges((5 << whole) - 1, (7 << whole) + 1)  # the last pixel of cell 4 to the first of cell 7
    assert [p.cell for p in parts] == [4, 5, 6, 7]
    assert parts[1] == PixelRange(5, 5 << whole, (6 << whole) - 1)
    assert merge_ranges([PixelRange(1, 10, 20), PixelRange(1, 21, 30), PixelRange(1, 5, 12), PixelRange(2, 0, 1),
                         PixelRange(1, 40, 50)]) == [PixelRange(1, 5, 30), PixelRange(1, 40, 50), PixelRange(2, 0, 1)]


def test_another_users_private_list_or_map_is_not_found_and_a_public_one_reruns() -> None:
    objects = MemoryObjects.of([{"diaObjectId": 7, "ra": 150.0, "decl": 30.0, "lastDiaSourceMjdTai": 1.0}])
    lists = WatchlistService(MemoryWatchlists(), objects)
    maps = WatchmapService(MemoryWatchmaps(), objects)
    wl = lists.create(ALICE, NewWatchlist(name="one", text="150, 30, x\n"))
    ar = maps.create(ALICE, NewWatchmap(name="one", cone=ConeArea(ra=150.0, dec=30.0, radius=10.0)))
    with pytest.raises(UnknownWatchlist, match=f"no watchlist {wl.wl_id}:"):
        lists.rerun(BOB, wl.wl_id)
    with pytest.raises(UnknownWatchmap, match=f"no watchmap {ar.ar_id}:"):
        maps.rerun(BOB, ar.ar_id)
    lists.update(ALICE, wl.wl_id, {"public": True})
    maps.update(ALICE, ar.ar_id, {"public": True})
    assert [(h["diaObjectId"], h["name"]) for h in lists.rerun(BOB, wl.wl_id).hits] == [(7, "x")]
    assert maps.rerun(BOB, ar.ar_id).hits == [{"diaObjectId": 7, "ar_id": ar.ar_id}]


def test_the_caps_refuse_too_many_ranges_or_sources_and_truncate_the_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = MemoryObjects.of([{"diaObjectId": i, "ra": 150.0 + i * 1e-4, "decl": 30.0, "lastDiaSourceMjdTai": 1.0}
                                for i in range(1, 31)])
    lists = WatchlistService(MemoryWatchlists(), objects)
    maps = WatchmapService(MemoryWatchmaps(), objects)
    wl = lists.create(ALICE, NewWatchlist(name="near", text="150.0015, 30, a, 60\n150.0015, 30, b, 60\n"))
    full = lists.rerun(ALICE, wl.wl_id)
    assert len(full.hits) == 60 and not full.truncated
    monkeypatch.setattr(watchlist_service, "MAX_RERUN_HITS", 25)
    cut = lists.rerun(ALICE, wl.wl_id)
    assert cut.truncated and cut.hits == full.hits[:25]
    monkeypatch.setattr(watchlist_service, "MAX_RERUN_CANDIDATES", 29)
    with pytest.raises(WatchlistError, match="watchlist 1 covers 30 stored objects; a rerun reads the positions of "
                                             "at most 29"):
        lists.rerun(ALICE, wl.wl_id)
    far = lists.create(ALICE, NewWatchlist(name="far", text="".join(f"{10 * i}, 0, s{i}\n" for i in range(3))))
    monkeypatch.setattr(watchlist_service, "MAX_RERUN_RANGES", 2)
    with pytest.raises(WatchlistError, match="watchlist 2 has 3 sources; a rerun takes at most 2"):
        lists.rerun(ALICE, far.wl_id)
    ar = maps.create(ALICE, NewWatchmap(name="3 cells", moc="6/1 3 5"))
    with pytest.raises(WatchmapError, match="watchmap 1 needs 3 index ranges; a rerun reads at most 2"):
        maps.rerun(ALICE, ar.ar_id)
    two = maps.create(ALICE, NewWatchmap(name="2 cells", moc="7/4-7 8"))  # depth-6 cell 1 whole, a quarter of 2
    assert maps.rerun(ALICE, two.ar_id).ranges == 2


def test_a_moc_parsed_as_one_deep_run_is_one_query_per_cell() -> None:
    moc = parse("5/0")  # a depth-5 cell: four depth-6 cells, so four Queries
    ranges = merge_ranges([r for s, e in zip(moc.starts, moc.ends, strict=True) for r in key_ranges(s, e)])
    assert [r.cell for r in ranges] == [0, 1, 2, 3]
