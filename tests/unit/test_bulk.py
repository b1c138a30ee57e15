"""One paginator path and one batch-write helper for every store (issue 14).

No store follows ``LastEvaluatedKey`` by hand any more: each reads through
``storage.bulk.paged_items`` (boto3's paginator), shown here over moto with pages of two
items, so every caller's result spans several pages. Every BatchWriteItem goes through
``storage.bulk.batch_put``, shown here with a client that hands items back unprocessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from moto_tables import template_tables

from skystream.aws import client, resource
from skystream.config import settings
from skystream.storage import annotations as annotation_store
from skystream.storage import annotators as annotator_registry
from skystream.storage import bulk
from skystream.storage import digest as digest_store
from skystream.storage.annotations import AnnotationRecord, AnnotationStore
from skystream.storage.annotators import AnnotatorRegistry
from skystream.storage.bulk import BulkWriteError, batch_put, paged_items
from skystream.storage.context import ContextStore
from skystream.storage.digest import DigestStore

pytestmark = pytest.mark.unit

PAGE = 2


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with template_tables(monkeypatch):
        yield


@pytest.fixture
def pages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every store read in pages of two items; returns the operations DynamoDB answered, one per page."""
    answered: list[str] = []

    def small_pages(dynamodb: Any, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        dynamodb.meta.events.register(f"after-call.dynamodb.{operation.capitalize()}",
                                      lambda **_: answered.append(operation), unique_id=f"count-{operation}")
        return paged_items(dynamodb, operation, Limit=PAGE, **kwargs)  # type: ignore[arg-type]

    for module in (annotation_store, annotator_registry, digest_store):
        monkeypatch.setattr(module, "paged_items", small_pages)
    return answered


def test_paged_items_reads_every_page_of_a_query_and_a_scan(tables: None) -> None:
    name = settings().annotations_table
    table = resource("dynamodb").Table(name)
    for i in range(7):
        table.put_item(Item={"diaObjectId": 5, "sk": f"h#{i}", "n": i})
    calls: list[int] = []
    low = client("dynamodb")
    low.meta.events.register("after-call.dynamodb.Query", lambda **_: calls.append(1), unique_id="t-query")
    typed = list(paged_items(low, "query", TableName=name, KeyConditionExpression="diaObjectId = :o",
                             ExpressionAttributeValues={":o": {"N": "5"}}, Limit=PAGE))
    assert [item["n"]["N"] for item in typed] == [str(i) for i in range(7)] and len(calls) >= 4
    plain = list(paged_items(table.meta.client, "scan", TableName=name, Limit=PAGE))
    assert sorted(int(item["n"]) for item in plain) == list(range(7))  # the resource's client: plain values


def test_every_store_query_and_scan_spans_pages(tables: None, pages: list[str]) -> None:
    store = AnnotationStore()
    for us in range(1, 8):
        store.put(AnnotationRecord(annotator="clf", dia_object_id=9, classification=f"c{us}", uploaded_us=us))
    assert [row["classification"] for row in store.history(9)] == [f"c{us}" for us in range(7, 0, -1)]
    assert pages.count("query") >= 4

    registry = AnnotatorRegistry()
    for n in range(5):
        registry.add(f"clf{n}", owner=1)
    assert [a.name for a in registry.all()] == [f"clf{n}" for n in range(5)]
    assert pages.count("scan") >= 3

    digest = DigestStore()
    day = dt.date(2026, 11, 30)
    before = pages.count("query")
    for user in range(1, 6):
        digest.add_matches(day, user, "f1", "SN", [{"diaObjectId": user}], "2026-11-30 10:00:00")
    assert digest.users(day) == [1, 2, 3, 4, 5]
    assert pages.count("query") - before >= 3


class ThrottledClient:
    """BatchWriteItem that hands back the last ``unprocessed`` items of a call, ``throttled`` times."""

    def __init__(self, throttled: int, unprocessed: int = 10) -> None:
        self.throttled = throttled
        self.unprocessed = unprocessed
        self.calls: list[int] = []
        self.stored: list[str] = []

    def batch_write_item(self, RequestItems: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
        (table, requests), = RequestItems.items()
        self.calls.append(len(requests))
        if self.throttled > 0:
            self.throttled -= 1
            kept, handed_back = requests[: -self.unprocessed], requests[-self.unprocessed:]
        else:
            kept, handed_back = requests, []
        self.stored += [r["PutRequest"]["Item"]["pk"]["S"] for r in kept]
        return {"UnprocessedItems": {table: handed_back} if handed_back else {}}


def test_batch_put_writes_25_a_call_and_sends_unprocessed_items_again(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(bulk.time, "sleep", slept.append)
    fake = ThrottledClient(throttled=2)
    items = [{"pk": {"S": f"k{i}"}} for i in range(30)]
    assert batch_put(fake, "t", items) == 30
    assert sorted(fake.stored) == sorted(f"k{i}" for i in range(30))  # each once, none lost
    assert fake.calls == [25, 10, 10, 5]  # a full chunk, its leftovers twice, then the last chunk
    assert slept == [0.05, 0.1]  # backing off between retries


def test_batch_put_names_the_table_when_items_stay_unprocessed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk.time, "sleep", lambda _s: None)
    fake = ThrottledClient(throttled=1000, unprocessed=3)
    with pytest.raises(BulkWriteError, match="3 item\\(s\\) stayed unprocessed in table t after 10 attempts"):
        batch_put(fake, "t", [{"pk": {"S": f"k{i}"}} for i in range(5)])
    assert len(fake.calls) == 10


def test_the_digest_and_the_context_table_write_through_batch_put(
        tables: None, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[tuple[str, int]] = []
    real = bulk.batch_put

    def spy(dynamodb: Any, table_name: str, items: Any) -> int:
        written.append((table_name, len(items)))
        return real(dynamodb, table_name, items)

    monkeypatch.setattr(digest_store, "batch_put", spy)
    from skystream.storage import context as context_store

    monkeypatch.setattr(context_store, "batch_put", spy)
    rows = [{"diaObjectId": i, "classification": "SN"} for i in range(1, 31)]
    assert ContextStore().put_rows("sherlock_classifications", rows) == 30
    assert len(ContextStore().rows(range(1, 31), "sherlock_classifications")) == 30
    DigestStore().add_matches(dt.date(2026, 11, 30), 1, "f1", "SN", [{"diaObjectId": 1}], "2026-11-30 10:00:00")
    assert written == [(settings().context_table, 30), (settings().digest_table, 2)]
