"""Watchmaps in filters (issue 19): ``watchmap:N`` / ``area:N`` join ``area_hits`` (inner, restricted to the named
watchmaps), the batch's positions against the MOCs, the lifecycle and who may read (as watchlists)."""

from __future__ import annotations

import json

import pytest
from fakes import (
    MemoryAnnotations,
    MemoryContext,
    MemoryObjects,
    MemoryWatchmaps,
    RecordingProducer,
    matcher,
    no_watchlists,
)

from skystream.domain.errors import FilterRejected, Forbidden, UnknownWatchmap, WatchmapError
from skystream.domain.filters import StoredFilter
from skystream.domain.objects import ObjectContext
from skystream.domain.users import User
from skystream.domain.watchmaps import from_cone, parse
from skystream.filters.batch import BatchRows
from skystream.filters.compiler import FilterQuery, compile_filter
from skystream.filters.engine import SqliteEngine
from skystream.services.joins import Joins
from skystream.services.watchlists import SETTINGS_TTL_S, readable
from skystream.services.watchmaps import ConeArea, NewWatchmap, WatchmapMatcher, WatchmapService

pytestmark = pytest.mark.unit


def test_watchmap_n_and_area_n_join_area_hits_inner_and_restricted_to_the_named_watchmaps() -> None:
    compiled = compile_filter(FilterQuery(selected="objects.diaObjectId, area_hits.ar_id",
                                          tables="objects, watchmap:4, area:9", conditions="objects.ra > 0"))
    assert compiled.watchmaps == {4, 9} and compiled.watchlists == frozenset() and "area_hits" in compiled.tables
    batch = BatchRows(objects=[{"diaObjectId": i, "ra": float(i)} for i in (1, 2, 3, 4)], area_hits=[
        {"diaObjectId": 1, "ar_id": 4}, {"diaObjectId": 2, "ar_id": 9}, {"diaObjectId": 3, "ar_id": 5}])
    rows = SqliteEngine().run(batch, [("f", compiled)])["f"].rows
    assert sorted((r["diaObjectId"], r["ar_id"]) for r in rows) == [(1, 4), (2, 9)]
    for query, message in [
        (FilterQuery(sql="SELECT area_hits.ar_id FROM objects, area_hits"), "area_hits is joined by naming the watchmap"),
        (FilterQuery(selected="objects.diaObjectId", tables="objects, area_hits"), "write watchmap:N"),
        (FilterQuery(selected="objects.diaObjectId", tables="objects, area:"), "is not a watchmap"),
        (FilterQuery(selected="area_hits.ar_id", tables="objects"), "not in tables"),
    ]:
        with pytest.raises(FilterRejected, match=message):
            compile_filter(query)


def _maps() -> MemoryWatchmaps:
    store = MemoryWatchmaps()
    store.add(owner=1, name="around 10,0", description="", public=False, active=True, moc=from_cone(10.0, 0.0, 60.0))
    store.add(owner=1, name="off", description="", public=False, active=False, moc=from_cone(20.0, 0.0, 60.0))
    store.add(owner=1, name="north cap", description="", public=False, active=True, moc=parse("0/0-3"))
    return store


def test_area_hits_only_for_the_named_active_watchmaps_and_no_work_without_them() -> None:
    store = _maps()
    joins = Joins(annotations=MemoryAnnotations(), context=MemoryContext(), watchlists=no_watchlists(),
                  watchmaps=WatchmapMatcher(store))
    objects = [{"diaObjectId": 1, "ra": 10.0, "decl": 0.001}, {"diaObjectId": 2, "ra": 20.0, "decl": 0.0},
               {"diaObjectId": 3, "ra": 30.0, "decl": 60.0}, {"diaObjectId": 4, "ra": None, "decl": None}]
    from test_joins import Needs

    plain = joins.build(objects, [Needs()])
    assert plain.area_hits == [] and store.settings_reads == 0 and store.moc_reads == 0
    batch = joins.build(objects, [Needs(watchmaps=frozenset({1, 2})), Needs(watchmaps=frozenset({3}))])
    assert sorted((h["diaObjectId"], h["ar_id"]) for h in batch.area_hits) == [(1, 1), (3, 3)]
    joins.build(objects, [Needs(watchmaps=frozenset({1}))])
    assert store.moc_reads == 2  # each active MOC read once per process; the inactive one never


def test_owner_only_edits_and_another_users_private_watchmap_is_answered_as_missing() -> None:
    store = MemoryWatchmaps()
    service = WatchmapService(store, MemoryObjects())
    alice, bob = User(1, "alice", "a@x"), User(2, "bob", "b@x")
    private = service.create(alice, NewWatchmap(name="gw", moc="3/1-3 5 4/100"))
    public = service.create(alice, NewWatchmap(name="cone", cone=ConeArea(ra=359.9, dec=-30.0, radius=600.0),
                                               public=True))
    assert (private.ranges, private.depth) == (3, 4) and public.depth == 13  # 600"/20 -> 26" cells or finer
    assert [w.ar_id for w in service.listing(bob)] == [public.ar_id]
    assert [w.ar_id for w in service.listing(alice)] == [private.ar_id, public.ar_id]
    assert service.export(alice, private.ar_id) == "3/1-3 5 4/100"
    assert parse(service.export(bob, public.ar_id)) == store.mocs[public.ar_id]
    for call in (lambda: service.visible(bob, private.ar_id), lambda: service.export(bob, private.ar_id),
                 lambda: service.delete(bob, private.ar_id),
                 lambda: readable(store, 2, {public.ar_id, private.ar_id}, kind="watchmap"),
                 lambda: readable(store, 1, {99}, kind="watchmap")):
        with pytest.raises(UnknownWatchmap, match=r"^no watchmap (1|99): write watchmap:N"):
            call()
    with pytest.raises(Forbidden):
        service.delete(bob, public.ar_id)
    with pytest.raises(WatchmapError, match="area of a watchmap is fixed"):
        service.update(alice, public.ar_id, {"moc": "3/1"})
    assert service.update(alice, public.ar_id, {"active": False}).active is False
    for bad, message in ((NewWatchmap(name="bad", moc="3/1 x"), "token 2 'x'"),
                         (NewWatchmap(name="both", moc="3/1", cone=ConeArea(1, 2, 3)), "not both or neither"),
                         (NewWatchmap(name="none"), "not both or neither")):
        with pytest.raises(WatchmapError, match=message):
            service.create(alice, bad)
    assert len(store.maps) == 2  # nothing stored from bad input
    service.delete(alice, private.ar_id)
    assert private.ar_id not in store.maps and private.ar_id not in store.mocs


def test_the_matcher_refuses_a_filter_whose_owner_lost_the_watchmap_and_runs_the_others() -> None:
    store = MemoryWatchmaps()
    store.add(owner=1, name="shared", description="", public=True, active=True, moc=from_cone(50.0, 10.0, 30.0))
    now = [0.0]
    producer = RecordingProducer()
    run = matcher(producer=producer, joins=Joins(annotations=MemoryAnnotations(), context=MemoryContext(),
                                                  watchlists=no_watchlists(),
                                                  watchmaps=WatchmapMatcher(store, clock=lambda: now[0])))

    def on_map(owner: int) -> StoredFilter:
        return StoredFilter(filter_id=f"f{owner}", owner=owner, name=f"f{owner}", output="kafka_plain", on_alert=True,
                            selected="objects.diaObjectId, area_hits.ar_id", tables="objects, watchmap:1",
                            conditions="", topic=f"lasair_{owner}f", created="t", modified="t")

    objects = [ObjectContext(row={"diaObjectId": 7, "ra": 50.0, "decl": 10.0001, "lastDiaSourceMjdTai": 1.0}, lite={}),
               ObjectContext(row={"diaObjectId": 8, "ra": 51.0, "decl": 10.0, "lastDiaSourceMjdTai": 1.0}, lite={})]
    report = run.run_and_deliver(objects, [on_map(1), on_map(2)], trigger="alert")
    assert report.failed_filters == 0
    assert sorted((t, json.loads(v)["diaObjectId"], json.loads(v)["ar_id"]) for t, v, _, _ in producer.sent) == [
        ("lasair_1f", 7, 1), ("lasair_2f", 7, 1)]
    store.update(1, {"public": False})
    now[0] = 2 * SETTINGS_TTL_S
    producer.sent.clear()
    report = run.run_and_deliver(objects, [on_map(1), on_map(2)], trigger="alert")
    assert report.failed_filters == 1 and report.per_filter["f2"].error.startswith("refused: no watchmap 1:")
    assert [t for t, *_ in producer.sent] == ["lasair_1f"]
