"""FilterStore: optimistic versions, atomic topic claims, the "filters changed" counter and the active cache."""

from __future__ import annotations

import pytest
from moto_tables import template_tables

from skystream.domain.errors import NotFound, StaleVersion, TopicClash
from skystream.domain.filters import StoredFilter
from skystream.outputs.topics import topic_name
from skystream.storage.filters import FilterStore


def make(fid: str, owner: int = 1, name: str = "SN", **kw) -> StoredFilter:
    base = dict(filter_id=fid, owner=owner, name=name, selected="objects.diaObjectId", tables="objects",
                output="kafka_plain", on_alert=True, topic=topic_name(owner, name), created="t", modified="t")
    return StoredFilter(**{**base, **kw})


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch):
    with template_tables(monkeypatch):
        yield FilterStore(refresh_s=0.0)


def test_put_then_get_round_trips_every_field(store: FilterStore) -> None:
    f = make("a1", description="rising", public=True, byte_quota=123, conditions="objects.ra > 1")
    store.put(f)
    assert store.get("a1") == f
    assert store.get("missing") is None
    assert store.get("topic#lasair_1SN") is None  # bookkeeping items are not filters
    assert store.get("") is None


def test_update_needs_the_current_version(store: FilterStore) -> None:
    store.put(make("a1"))
    store.put(make("a1", description="v2", version=2), expected_version=1, previous_topic="lasair_1SN")
    with pytest.raises(StaleVersion) as stale:
        store.put(make("a1", description="lost update", version=2), expected_version=1,
                  previous_topic="lasair_1SN")
    assert "version 2" in str(stale.value) and stale.value.status == 409
    assert store.get("a1").description == "v2"


def test_two_filters_can_never_share_a_topic(store: FilterStore) -> None:
    store.put(make("a1", name="SN"))
    with pytest.raises(TopicClash) as clash:
        store.put(make("a2", name="S N!"))  # sanitises to the same topic
    assert "lasair_1SN" in str(clash.value)
    # user 1's "2x" and user 12's "x" both map to lasair_12x: refused across users too
    store.put(make("b1", owner=1, name="2x"))
    with pytest.raises(TopicClash):
        store.put(make("b2", owner=12, name="x"))
    assert store.get("a2") is None and store.get("b2") is None


def test_rename_releases_the_old_topic_and_delete_releases_the_new(store: FilterStore) -> None:
    store.put(make("a1", name="SN"))
    store.put(make("a1", name="Nova", topic="lasair_1Nova", version=2), expected_version=1,
              previous_topic="lasair_1SN")
    store.put(make("a2", name="SN"))  # the old name is free again
    with pytest.raises(TopicClash):
        store.put(make("a3", name="Nova"))
    store.delete(store.get("a1"))
    store.put(make("a3", name="Nova"))
    with pytest.raises(NotFound):
        store.delete(make("a1", name="Nova", topic="lasair_1Nova", version=2))


def test_lists_by_owner_and_public(store: FilterStore) -> None:
    store.put(make("a1", owner=1, name="b"))
    store.put(make("a2", owner=1, name="a", public=True))
    store.put(make("c1", owner=2, name="c", public=True))
    store.put(make("c2", owner=2, name="d"))
    assert [f.filter_id for f in store.list_for(1)] == ["a2", "a1"]
    assert [f.filter_id for f in store.list_public()] == ["a2", "c1"]


def test_active_list_is_cached_and_refreshed_when_the_counter_moves(store: FilterStore) -> None:
    store.put(make("a1", name="one", on_alert=True))
    store.put(make("a2", name="two", on_alert=False, on_annotation=True, topic=None, output="none"))
    assert [f.filter_id for f in store.active("alert")] == ["a1"]
    assert [f.filter_id for f in store.active("annotation")] == ["a2"]
    before = store.changed_version()
    slow = FilterStore(refresh_s=3600)
    cached = slow.active("alert")
    store.put(make("a3", name="three", on_alert=True))
    assert store.changed_version() == before + 1
    assert slow.active("alert") is cached  # within refresh_s: no DynamoDB read at all
    assert sorted(f.filter_id for f in store.active("alert")) == ["a1", "a3"]


def test_a_recreated_table_is_never_mistaken_for_the_cached_one(store: FilterStore) -> None:
    from skystream.aws import client
    from skystream.local.stack import local_template

    store.put(make("a1", name="old"))
    assert [f.filter_id for f in store.active("alert")] == ["a1"]
    dynamodb = client("dynamodb")
    dynamodb.delete_table(TableName=store.table)
    dynamodb.create_table(**local_template("127.0.0.1:1").tables[store.table])
    store.put(make("b1", name="new"))  # the counter is back at 1, as it was when a1 was cached
    assert store.changed_version() == 1
    assert [f.filter_id for f in store.active("alert")] == ["b1"]
