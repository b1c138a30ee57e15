"""Watchlists (issue 19): parsing Lasair's text form, and the crossmatch against an independent brute force.

The crossmatch (HEALPix cells, then exact distance) is compared with astropy's separations over every
(position, source) pair: random sources near both poles, across RA 0/360 and elsewhere, radii from 1 to
1800 arcsec, and positions placed just inside and just outside sources' radii (astropy's offsets).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from skystream.domain.watchlist_match import SourceIndex
from skystream.domain.watchlists import (
    MAX_RADIUS_ARCSEC,
    MAX_SOURCES,
    Source,
    WatchlistError,
    export_text,
    parse_sources,
)

pytestmark = pytest.mark.unit


# -- parsing -------------------------------------------------------------------------------------

def test_lines_with_commas_or_bars_a_header_and_a_default_radius() -> None:
    text = "ra, dec, name, radius\n\n# my CVs\n10.5, -20.25, SS Cyg, 5\n359.9 | 89.5 | polar\n0,0,origin,\n"
    sources = parse_sources(text, default_radius=3.0)
    assert sources == [Source(1, 10.5, -20.25, "SS Cyg", 5.0), Source(2, 359.9, 89.5, "polar", 3.0),
                       Source(3, 0.0, 0.0, "origin", 3.0)]


def test_export_reads_back_to_the_same_sources() -> None:
    sources = parse_sources("1.000000123, -2.5, a, 7\n200.25|33.3|b b|1800\n", default_radius=2.0)
    assert parse_sources(export_text(sources), default_radius=60.0) == sources


@pytest.mark.parametrize(("text", "message"), [
    ("1, 2, a\n3, 4\n", "line 2: 2 field"),
    ("1, 2, a\n400, 4, b\n", r"line 2: RA '400' is not a number of degrees in \[0, 360\)"),
    ("1, 2, a\n\n5, -91, b\n", r"line 3: Dec '-91' is not a number of degrees in \[-90, 90\]"),
    ("1, 2, a\n5, x, b\n", "line 2: Dec 'x'"),
    ("1, 2, a, 1801\n", "line 1: radius: 1801.0 is not a radius in arcsec greater than 0 and at most 1800"),
    ("1, 2, a, 0\n", "line 1: radius: 0.0"),
    ("1, 2, a, wide\n", "line 1: radius 'wide' is not a number"),
    ("1, 2, , 4\n", "line 1: the name must be"),
    ("ra, dec, name\n", "holds no sources"),
    ("1, 2, a, 3, 4\n", "line 1: 5 field"),
    ("nan, 2, a\n1, 2, b\n2, inf, c\n", "line 3: Dec 'inf'"),
])
def test_a_bad_line_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(WatchlistError, match=message):
        parse_sources(text)


def test_limits_on_radius_and_count() -> None:
    with pytest.raises(WatchlistError, match="default radius"):
        parse_sources("1, 2, a\n", default_radius=MAX_RADIUS_ARCSEC + 1)
    assert parse_sources("1, 2, a\n", default_radius=MAX_RADIUS_ARCSEC)[0].radius == MAX_RADIUS_ARCSEC
    many = "".join(f"{i % 360}, 0, s{i}\n" for i in range(MAX_SOURCES))
    assert len(parse_sources(many)) == MAX_SOURCES
    with pytest.raises(WatchlistError, match=f"line {MAX_SOURCES + 1}: a watchlist holds at most 100,000 sources"):
        parse_sources(many + "1, 1, one too many\n")


# -- crossmatch ----------------------------------------------------------------------------------

def _sources(rng: random.Random, n: int) -> list[Source]:
    out = []
    for i in range(n):
        zone = i % 4
        if zone == 0:
            ra, dec = rng.uniform(0, 360), rng.uniform(85, 90)
        elif zone == 1:
            ra, dec = rng.uniform(0, 360), rng.uniform(-90, -85)
        elif zone == 2:
            ra, dec = rng.uniform(-1, 1) % 360, rng.uniform(-5, 5)
        else:
            ra, dec = rng.uniform(0, 360), rng.uniform(-60, 60)
        radius = rng.choice([1.0, 2.5, 10.0, 60.0, 300.0, 1800.0])
        out.append(Source(i + 1, ra, dec, f"s{i + 1}", radius))
    return out


def _positions(rng: random.Random, lists: list[list[Source]], extra: int) -> list[tuple[int, float, float]]:
    """Near each source just inside and just outside its radius (astropy's offsets), plus random points."""
    out: list[tuple[int, float, float]] = []
    for sources in lists:
        for s in sources:
            centre = SkyCoord(s.ra * u.deg, s.decl * u.deg)
            for factor in (0.98, 1.02):
                p = centre.directional_offset_by(rng.uniform(0, 360) * u.deg, s.radius * factor * u.arcsec)
                out.append((len(out) + 1, float(p.ra.deg), float(p.dec.deg)))
    for _ in range(extra):
        zone = rng.random()
        dec = rng.uniform(84, 90) if zone < 0.3 else rng.uniform(-90, -84) if zone < 0.6 else rng.uniform(-10, 10)
        out.append((len(out) + 1, rng.uniform(-1, 1) % 360 if zone > 0.8 else rng.uniform(0, 360), dec))
    return out


def test_crossmatch_equals_brute_force_near_poles_and_across_ra_zero() -> None:
    rng = random.Random(19)
    lists = [_sources(rng, 150), _sources(rng, 150)]
    index = SourceIndex([(7, lists[0]), (8, lists[1])])
    positions = _positions(rng, lists, 400)
    got = {(h.dia_object_id, h.wl_id, h.cone_id): h for h in index.match_all(positions)}

    ra = np.array([p[1] for p in positions])
    dec = np.array([p[2] for p in positions])
    points = SkyCoord(ra * u.deg, dec * u.deg)
    expected: dict[tuple[int, int, int], float] = {}
    for wl_id, sources in ((7, lists[0]), (8, lists[1])):
        for s in sources:
            sep = points.separation(SkyCoord(s.ra * u.deg, s.decl * u.deg)).arcsec
            for k in np.nonzero(sep <= s.radius)[0].tolist():
                expected[(positions[k][0], wl_id, s.cone_id)] = float(sep[k])
    assert len(expected) > 300  # the just-inside points at least: the comparison is not vacuous
    assert set(got) == set(expected)
    for key, arcsec in expected.items():
        assert got[key].arcsec == pytest.approx(arcsec, abs=1e-6)
        assert got[key].name == f"s{key[2]}"


def test_every_radius_from_one_to_1800_arcsec_alone() -> None:
    """One watchlist per radius: the index depth follows the largest radius, so each gets its own depth."""
    rng = random.Random(5)
    for radius in (1.0, 7.0, 120.0, 1800.0):
        sources = [Source(i + 1, rng.uniform(0, 360), rng.uniform(-90, 90), f"s{i}", radius) for i in range(60)]
        sources += [Source(61, 0.0, 89.9999, "pole", radius), Source(62, 359.9999, 0.0, "edge", radius)]
        index = SourceIndex([(1, sources)])
        positions = _positions(rng, [sources], 50)
        got = {(h.dia_object_id, h.cone_id) for h in index.match_all(positions)}
        points = SkyCoord(np.array([p[1] for p in positions]) * u.deg, np.array([p[2] for p in positions]) * u.deg)
        expected = {(positions[k][0], s.cone_id) for s in sources
                    for k in np.nonzero(points.separation(SkyCoord(s.ra * u.deg, s.decl * u.deg)).arcsec
                                        <= s.radius)[0].tolist()}
        assert got == expected and len(expected) >= len(sources), radius


def test_no_sources_and_bad_positions_give_no_hits() -> None:
    assert SourceIndex([]).match_all([(1, 10.0, 10.0)]) == []
    index = SourceIndex([(1, [Source(1, 10.0, 10.0, "a", 5.0)])])
    assert index.match_all([(1, float("nan"), 10.0), (2, 10.0, 95.0)]) == []
    assert [h.row() for h in index.match_all([(3, 10.0, 10.0)])] == [
        {"diaObjectId": 3, "wl_id": 1, "cone_id": 1, "name": "a", "arcsec": 0.0}]


# -- in filters ----------------------------------------------------------------------------------

def test_watchlist_n_joins_its_hits_only_inner_and_restricted_to_the_named_watchlists() -> None:
    from skystream.domain.errors import FilterRejected
    from skystream.filters.batch import BatchRows
    from skystream.filters.compiler import FilterQuery, compile_filter
    from skystream.filters.engine import SqliteEngine

    compiled = compile_filter(FilterQuery(selected="objects.diaObjectId, watchlist_hits.name, watchlist_hits.arcsec",
                                          tables="objects, watchlist:4, watchlist:9", conditions="objects.ra > 0"))
    assert compiled.watchlists == {4, 9} and "watchlist_hits" in compiled.tables
    batch = BatchRows(objects=[{"diaObjectId": i, "ra": float(i)} for i in (1, 2, 3)], watchlist_hits=[
        {"diaObjectId": 1, "wl_id": 4, "cone_id": 1, "name": "a", "arcsec": 1.5},
        {"diaObjectId": 2, "wl_id": 9, "cone_id": 7, "name": "b", "arcsec": 0.5},
        {"diaObjectId": 3, "wl_id": 5, "cone_id": 1, "name": "other list", "arcsec": 0.1},
    ])
    rows = SqliteEngine().run(batch, [("f", compiled)])["f"].rows
    assert sorted((r["diaObjectId"], r["name"], r["arcsec"]) for r in rows) == [(1, "a", 1.5), (2, "b", 0.5)]
    for query, message in [
        (FilterQuery(sql="SELECT watchlist_hits.name FROM objects, watchlist_hits"), "write the filter as selected"),
        (FilterQuery(selected="objects.diaObjectId", tables="objects, watchlist_hits"), "write watchlist:N"),
        (FilterQuery(selected="objects.diaObjectId", tables="objects, watchlist:x"), "is not a watchlist"),
        (FilterQuery(selected="objects.diaObjectId", tables="objects, watchmap:3x"), "is not a watchmap"),
        (FilterQuery(selected="watchlist_hits.name", tables="objects"), "not in tables"),
    ]:
        with pytest.raises(FilterRejected, match=message):
            compile_filter(query)


# -- lifecycle and who may read ------------------------------------------------------------------

def test_owner_only_edits_and_another_users_private_list_is_answered_as_missing() -> None:
    from fakes import MemoryObjects, MemoryWatchlists

    from skystream.domain.errors import Forbidden, UnknownWatchlist
    from skystream.domain.users import User
    from skystream.services.watchlists import NewWatchlist, WatchlistService, readable

    store = MemoryWatchlists()
    service = WatchlistService(store, MemoryObjects())
    alice, bob = User(1, "alice", "a@x"), User(2, "bob", "b@x")
    private = service.create(alice, NewWatchlist(name="cvs", text="ra,dec,name\n1,2,a\n3,4,b,9\n", radius=5.0))
    public = service.create(alice, NewWatchlist(name="shared", text="5,6,c\n", public=True))
    assert (private.count, private.radius) == (2, 5.0)
    assert [w.wl_id for w in service.listing(bob)] == [public.wl_id]
    assert [w.wl_id for w in service.listing(alice)] == [private.wl_id, public.wl_id]
    assert service.export(alice, private.wl_id) == "ra, dec, name, radius\n1.0, 2.0, a, 5.0\n3.0, 4.0, b, 9.0\n"
    for call in (lambda: service.visible(bob, private.wl_id), lambda: service.export(bob, private.wl_id),
                 lambda: service.delete(bob, private.wl_id), lambda: readable(store, 2, {public.wl_id, private.wl_id}),
                 lambda: readable(store, 1, {99})):
        with pytest.raises(UnknownWatchlist, match=r"^no watchlist (1|99):"):
            call()
    with pytest.raises(Forbidden):
        service.delete(bob, public.wl_id)
    with pytest.raises(WatchlistError, match="sources of a watchlist are fixed"):
        service.update(alice, public.wl_id, {"radius": 3})
    assert service.update(alice, public.wl_id, {"active": False}).active is False
    with pytest.raises(WatchlistError, match="line 2: Dec"):
        service.create(alice, NewWatchlist(name="bad", text="1,2,a\n1,x,b\n"))
    assert len(store.lists) == 2  # nothing stored from the bad text
    service.delete(alice, private.wl_id)
    assert readable(store, 2, {public.wl_id}) and private.wl_id not in store.lists


def test_the_store_keeps_100000_sources_in_parts_and_lists_without_reading_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto_tables import template_tables

    from skystream.domain.errors import UnknownWatchlist
    from skystream.storage.watchlists import PART_BYTES, WatchlistStore, encode_sources

    rng = random.Random(3)
    sources = [Source(i + 1, rng.uniform(0, 360), rng.uniform(-90, 90), f"source-{i}", rng.uniform(1, 1800))
               for i in range(MAX_SOURCES)]
    with template_tables(monkeypatch):
        store = WatchlistStore()
        assert len(encode_sources(sources)) > 1 and all(len(p) <= PART_BYTES for p in encode_sources(sources))
        big = store.add(owner=7, name="big", description="d", radius=2.0, public=False, active=True, sources=sources)
        small = store.add(owner=8, name="small", description="", radius=3.5, public=True, active=True,
                          sources=sources[:1])
        assert (big.wl_id, small.wl_id) == (1, 2)
        assert store.sources(big.wl_id) == sources
        assert [(w.wl_id, w.owner, w.count, w.radius, w.public) for w in store.all()] == [
            (1, 7, MAX_SOURCES, 2.0, False), (2, 8, 1, 3.5, True)]
        assert set(store.many([1, 2, 3])) == {1, 2}
        assert store.update(2, {"active": False, "name": "renamed"}).name == "renamed"
        assert store.get(2).active is False and store.get(2).version == 2
        store.delete(1)
        assert store.get(1) is None and [w.wl_id for w in store.all()] == [2]
        with pytest.raises(UnknownWatchlist):
            store.sources(1)
        with pytest.raises(UnknownWatchlist):
            store.update(1, {"active": True})


def test_the_matcher_rereads_settings_after_a_while_and_keeps_sources() -> None:
    from fakes import MemoryWatchlists

    from skystream.services.watchlists import SETTINGS_TTL_S, WatchlistMatcher

    store = MemoryWatchlists()
    for name in ("a", "b"):
        store.add(owner=1, name=name, description="", radius=5.0, public=False, active=True,
                  sources=[Source(1, 50.0, 10.0, f"{name} source", 5.0)])
    now = [0.0]
    matcher = WatchlistMatcher(store, clock=lambda: now[0])
    here = [(1, 50.0, 10.0)]
    assert sorted(r["wl_id"] for r in matcher.rows({1, 2}, here)) == [1, 2]
    store.update(2, {"active": False})
    now[0] = SETTINGS_TTL_S / 2
    assert len(matcher.rows({1, 2}, here)) == 2  # settings trusted for a while
    now[0] = SETTINGS_TTL_S * 2
    assert [r["name"] for r in matcher.rows({1, 2}, here)] == ["a source"]
    store.delete(1)
    now[0] = SETTINGS_TTL_S * 4
    assert matcher.rows({1, 2}, here) == [] and store.source_reads == 2


def test_the_matcher_refuses_a_filter_whose_owner_lost_the_watchlist_and_runs_the_others() -> None:
    """A filter saved on a public watchlist fails (reported, counted for suspension) once the watchlist's owner
    makes it private: its records would name another user's private sources. The owner's own filter still runs."""
    import json

    from fakes import MemoryAnnotations, MemoryContext, MemoryWatchlists, RecordingProducer, matcher, no_watchmaps

    from skystream.domain.filters import StoredFilter
    from skystream.domain.objects import ObjectContext
    from skystream.services.joins import Joins
    from skystream.services.watchlists import SETTINGS_TTL_S, WatchlistMatcher

    store = MemoryWatchlists()
    store.add(owner=1, name="shared", description="", radius=5.0, public=True, active=True,
              sources=[Source(1, 50.0, 10.0, "the source", 5.0)])
    now = [0.0]
    producer = RecordingProducer()
    run = matcher(producer=producer, joins=Joins(annotations=MemoryAnnotations(), context=MemoryContext(),
                                                  watchlists=WatchlistMatcher(store, clock=lambda: now[0]),
                                                  watchmaps=no_watchmaps()))

    def on_list(owner: int) -> StoredFilter:
        return StoredFilter(filter_id=f"f{owner}", owner=owner, name=f"f{owner}", output="kafka_plain", on_alert=True,
                            selected="objects.diaObjectId, watchlist_hits.name", tables="objects, watchlist:1",
                            conditions="", topic=f"lasair_{owner}f", created="t", modified="t")

    objects = [ObjectContext(row={"diaObjectId": 7, "ra": 50.0, "decl": 10.0001, "lastDiaSourceMjdTai": 1.0}, lite={})]
    report = run.run_and_deliver(objects, [on_list(1), on_list(2)], trigger="alert")
    assert report.failed_filters == 0
    assert sorted((t, json.loads(v)["name"]) for t, v, _, _ in producer.sent) == [
        ("lasair_1f", "the source"), ("lasair_2f", "the source")]
    store.update(1, {"public": False})
    now[0] = 2 * SETTINGS_TTL_S
    producer.sent.clear()
    report = run.run_and_deliver(objects, [on_list(1), on_list(2)], trigger="alert")
    assert report.failed_filters == 1 and report.per_filter["f2"].error.startswith("refused: no watchlist 1:")
    assert [t for t, *_ in producer.sent] == ["lasair_1f"]
