"""A filter that keeps failing is suspended, visibly, its owner told once; saving it re-activates it.

The rule (``skystream.services.suspension``): SUSPEND_AFTER_FAILURES consecutive failing batches.
Counted on the filter item (moto DynamoDB here), so it holds across containers, and written
only when something fails (or a success follows failures).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

import pytest
from fakes import MemoryFailureCounts, RecordingNotice, RecordingProducer, matcher
from moto_tables import template_tables
from test_api import BODY, World, world  # noqa: F401 (the fixture)

from skystream.domain.filters import StoredFilter, Suspension
from skystream.domain.objects import ObjectContext
from skystream.outputs.topics import topic_name
from skystream.services.suspension import Suspensions, forget_known_counts, suspension_email
from skystream.storage.filters import FilterStore

pytestmark = pytest.mark.unit

# Stored before the checker had its lengths pass: it never compiles now, so it fails every batch.
REFUSED_NOW = "objects.ra LIKE '%" + "x" * 300 + "%'"


@pytest.fixture(autouse=True)
def fresh_counts() -> Iterator[None]:
    forget_known_counts()
    yield
    forget_known_counts()


def make(fid: str = "f1", owner: int = 1, conditions: str = "objects.ra > 0", **kw) -> StoredFilter:
    return StoredFilter(filter_id=fid, owner=owner, name=fid, selected="objects.diaObjectId", tables="objects",
                        conditions=conditions, output="kafka_plain", on_alert=True, topic=topic_name(owner, fid),
                        created="t", modified="t", **kw)


def batch(health: Suspensions, filters: list[StoredFilter]) -> None:
    objects = [ObjectContext(row={"diaObjectId": 1, "ra": 1.0}, lite={})]
    matcher(producer=RecordingProducer(), health=health).run_and_deliver(objects, filters, trigger="alert")


# -- the rule --------------------------------------------------------------------------------

def test_n_failures_in_a_row_suspend_once_and_tell_the_owner_once() -> None:
    counts, mailbox = MemoryFailureCounts(), RecordingNotice()
    health = Suspensions(counts, notify=mailbox, after=3)
    f = make()
    for _ in range(2):
        health.failed(f, "stopped after 2.01 s: over the time limit of 2 s")
    assert counts.suspended == {} and mailbox.sent == []
    health.failed(f, "stopped after 2.01 s: over the time limit of 2 s")
    suspension = counts.suspended["f1"]
    assert suspension.failures == 3 and "failed on 3 batches in a row" in suspension.reason
    assert "over the time limit of 2 s" in suspension.reason
    health.failed(f, "again")  # a batch already under way elsewhere: suspended once, mailed once
    assert [s for _, s in mailbox.sent] == [suspension]


def test_a_success_resets_the_count_and_writes_nothing_when_nothing_failed() -> None:
    counts = MemoryFailureCounts()
    health = Suspensions(counts, notify=RecordingNotice(), after=3)
    f = make()
    for _ in range(10):
        health.succeeded(f)
    assert counts.writes == 0  # the happy path costs no DynamoDB write
    health.failed(f, "x")
    health.failed(f, "x")
    health.succeeded(f)
    health.succeeded(f)
    assert counts.counts == {"f1": 0} and counts.writes == 3  # two failures, one reset
    health.failed(f, "x")
    health.failed(f, "x")
    assert counts.suspended == {}  # never three in a row


# -- durable, on the filter item (moto DynamoDB) -----------------------------------------------

@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[FilterStore]:
    with template_tables(monkeypatch):
        yield FilterStore(refresh_s=0.0)


def test_a_filter_failing_every_batch_is_suspended_and_leaves_the_active_list(store: FilterStore) -> None:
    broken, good = make("broken", conditions=REFUSED_NOW), make("good")
    store.put(broken)
    store.put(good)
    mailbox = RecordingNotice()
    for _ in range(4):  # each batch a fresh container: the count lives on the item
        forget_known_counts()
        batch(Suspensions(store, notify=mailbox, after=5), store.active("alert"))
    assert store.get("broken").consecutive_failures == 4 and store.get("broken").suspended is None
    batch(Suspensions(store, notify=mailbox, after=5), store.active("alert"))
    suspended = store.get("broken")
    assert suspended.suspended is not None and suspended.suspended.failures == 5
    assert "refused: a LIKE pattern of 302 bytes" in suspended.suspended.reason
    assert suspended.version == 1 and not suspended.active
    assert [f.filter_id for f in store.active("alert")] == ["good"]
    assert [(f.filter_id, s.failures) for f, s in mailbox.sent] == [("broken", 5)]
    assert store.get("good").consecutive_failures == 0


def test_counts_and_suspension_never_land_on_a_newer_version(store: FilterStore) -> None:
    old = make()
    store.put(old)
    store.put(make(description="edited", version=2), expected_version=1, previous_topic=old.topic)
    assert store.add_failure(old) == 0
    assert not store.suspend(old, Suspension(reason="r", at="t", failures=5))
    current = store.get("f1")
    assert current.consecutive_failures == 0 and current.suspended is None


def test_a_success_after_failures_clears_the_stored_count(store: FilterStore) -> None:
    f = make()
    store.put(f)
    Suspensions(store, notify=RecordingNotice(), after=5).failed(f, "x")
    forget_known_counts()  # another container: it learns the count from the item it read
    health = Suspensions(store, notify=RecordingNotice(), after=5)
    health.succeeded(store.get("f1"))
    assert store.get("f1").consecutive_failures == 0


# -- visible in the API, lifted by saving ----------------------------------------------------

def test_suspension_is_visible_in_the_api_and_saving_again_reactivates(world: World) -> None:  # noqa: F811
    status, saved = world.call("POST", "/filters", BODY)
    assert status == 201
    fid = saved["filter"]["filter_id"]
    store = FilterStore(refresh_s=0.0)
    stored = store.get(fid)
    for _ in range(5):
        Suspensions(store, notify=RecordingNotice(), after=5).failed(stored, "stopped after 2.01 s: over the time limit of 2 s")

    status, shown = world.call("GET", f"/filters/{fid}")
    assert status == 200 and shown["active"] is False and shown["consecutive_failures"] == 5
    assert shown["suspended"]["failures"] == 5 and "over the time limit" in shown["suspended"]["reason"]
    assert shown["suspended"]["at"] and shown["version"] == 1
    _, listed = world.call("GET", "/filters")
    assert [f["suspended"]["failures"] for f in listed["filters"] if f["filter_id"] == fid] == [5]
    assert store.active("alert") == []

    status, resaved = world.call("PATCH", f"/filters/{fid}", {"version": 1})  # saved again, unchanged
    assert status == 200
    assert resaved["filter"]["suspended"] is None and resaved["filter"]["active"] is True
    assert resaved["filter"]["consecutive_failures"] == 0 and resaved["filter"]["version"] == 2
    assert [f.filter_id for f in store.active("alert")] == [fid]


def test_the_email_says_what_failed_and_how_to_lift_it() -> None:
    f = make("f9", owner=7)
    raw = suspension_email(f, Suspension(reason="failed on 5 batches in a row; the last time: boom", at="2026-01-01T00:00:00+00:00",
                                         failures=5), to_name="Ada", to_email="ada@example.org", sender="s@example.org")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"] == "Ada <ada@example.org>" and "suspended" in message["Subject"]
    body = message.get_content()
    assert "failed on 5 batches in a row; the last time: boom" in body
    assert "skystream filter resume f9" in body and "PATCH /filters/f9" in body
