"""recent() (run-now and the reseed of a Kafka save) stays fast whatever nights the stored data claims.

Real parts: moto's server for DynamoDB, the HTTP API on a loopback port (run-now), tansu for
the Kafka save. On main 737fbe3 one object 15,000 days ahead made ``recent()`` walk 15,000
empty nights (~40 s here) on every call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from skystream.alerts.lightcurve import lite_lightcurve
from skystream.clients.api import ApiClient
from skystream.devtools.factory import make_alert
from skystream.devtools.generator import generate_alerts
from skystream.features import objects_row
from skystream.local.processes import free_port
from skystream.local.testing import EphemeralStack
from skystream.storage.objects import MAX_NIGHT_QUERIES, ObjectStore
from skystream.storage.users import UserStore

FUTURE_ID = 9_000_000_001
RUN_NOW_BOUND_S = 2.0


def _store(alert: dict) -> None:
    ObjectStore().upsert_if_newer(objects_row(alert), lite_lightcurve(alert), schema_version="11.1",
                                  dia_source_id=alert["diaSourceId"])


@pytest.fixture
def api(stack: EphemeralStack) -> Iterator[ApiClient]:
    port = free_port()
    host = stack.host(only={"filter_api"}, api_port=port).start()
    _user, token = UserStore().add("Ada", "ada@example.org")
    try:
        yield ApiClient(f"http://127.0.0.1:{port}", token)
    finally:
        host.stop()


def test_run_now_with_an_object_15000_days_ahead_stays_under_two_seconds(api: ApiClient) -> None:
    ordinary = generate_alerts(30, seed=31)
    for alert in ordinary:
        _store(alert)
    newest = max(a["diaSource"]["midpointMjdTai"] for a in ordinary)
    _store(make_alert([(newest + 15_000 - 1, "g", 50.0), (newest + 15_000, "r", 80.0)], object_id=FUTURE_ID))

    body = {"selected": "objects.diaObjectId, objects.lastDiaSourceMjdTai", "tables": "objects", "limit": 1000}
    api.post("/filters/run", body)  # warm: imports and the first connections are not what is measured
    started = time.perf_counter()
    ran = api.post("/filters/run", body)
    elapsed = time.perf_counter() - started

    assert elapsed < RUN_NOW_BOUND_S, f"run-now took {elapsed:.1f} s"
    found = {r["diaObjectId"] for r in ran["rows"]}
    assert found == {a["diaObject"]["diaObjectId"] for a in ordinary} | {FUTURE_ID}
    assert ran["objects_scanned"] == 31


def test_saving_a_kafka_filter_reseeds_from_the_ordinary_objects_quickly(api: ApiClient) -> None:
    ordinary = generate_alerts(12, seed=32)
    for alert in ordinary:
        _store(alert)
    newest = max(a["diaSource"]["midpointMjdTai"] for a in ordinary)
    _store(make_alert([(newest + 15_000, "r", 80.0)], object_id=FUTURE_ID))

    started = time.perf_counter()
    saved = api.post("/filters", {"name": "recent", "selected": "objects.diaObjectId", "tables": "objects",
                                  "conditions": f"objects.diaObjectId <> {FUTURE_ID}", "output": "kafka_plain"})
    elapsed = time.perf_counter() - started
    assert saved["reseeded"] == 10  # ten of the twelve ordinary objects: the reseed reached them
    assert elapsed < 10.0, f"saving took {elapsed:.1f} s"


def test_nights_emptied_above_the_data_cost_at_most_the_cap(stack: EphemeralStack) -> None:
    """An object moved forward night after night leaves empty nights above the real data: bounded."""
    for object_id, mjd in [(1, 61000.2), (2, 61000.3)]:
        _store(make_alert([(mjd, "g", 10.0)], object_id=object_id))
    for step in range(2 * MAX_NIGHT_QUERIES):  # one object walking forward: every night it leaves is empty
        _store(make_alert([(70000.2 + step, "g", 10.0)], object_id=3))
    store = ObjectStore()
    calls: list[str] = []
    real_query = store._client.query
    store._client.query = lambda **kw: calls.append(kw["IndexName"]) or real_query(**kw)  # type: ignore[method-assign]
    started = time.perf_counter()
    recent = store.recent(10)
    elapsed = time.perf_counter() - started
    assert len(calls) == MAX_NIGHT_QUERIES and elapsed < RUN_NOW_BOUND_S
    assert [s.dia_object_id for s in recent] == [3]  # the newest object; the walk stopped at the cap


def test_the_set_of_nights_replaces_the_range_and_old_meta_items_still_read(stack: EphemeralStack) -> None:
    first, second = ObjectStore(), ObjectStore()
    _store(make_alert([(60000.2, "g", 1.0)], object_id=1))
    first.upsert_if_newer(objects_row(make_alert([(60005.2, "g", 1.0)], object_id=2)), {}, dia_source_id=2)
    second.upsert_if_newer(objects_row(make_alert([(59990.2, "g", 1.0)], object_id=3)), {}, dia_source_id=3)
    assert ObjectStore()._nights() == [60005, 60000, 59990]  # only nights that hold objects: no walk between

    legacy = ObjectStore()
    legacy._client.delete_item(TableName=legacy.table_name, Key={"diaObjectId": {"N": "-1"}})
    legacy._client.put_item(TableName=legacy.table_name, Item={  # written by the range-keeping code
        "diaObjectId": {"N": "-1"}, "minNight": {"N": "59990"}, "maxNight": {"N": "60005"}})
    assert [s.dia_object_id for s in ObjectStore().recent(10)] == [2, 1, 3]
