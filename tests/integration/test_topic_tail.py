"""Reading the newest records of a topic page by page (``streams.tail``), on the real broker, and
``GET /filters/{id}/records`` over HTTP on the local stack.

The records are produced by the producer users' topics get (idempotent, zstd, batched): on tansu
its batches make the high watermark that ListOffsets reports lag behind the last record, which
the reader must not trust (it reads the newest page to the end the fetch reports).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from test_filter_streams import seed_objects

from skystream.clients.api import ApiClient, ApiError
from skystream.devtools.generator import generate_alerts
from skystream.domain.records import KafkaRecord
from skystream.local.testing import EphemeralStack, read_topic
from skystream.storage.users import UserStore
from skystream.streams.admin import TopicAdmin
from skystream.streams.producer import output_producer
from skystream.streams.tail import TopicReader


def all_pages(reader: TopicReader, topic: str, limit: int, **kwargs: int) -> list[list[KafkaRecord]]:
    pages, before = [], None
    while True:
        page = reader.tail(topic, limit=limit, before=before, **kwargs)
        assert page.exists and page.complete
        pages.append(page.records)
        if page.next_before is None:
            return pages
        before = page.next_before
        assert len(pages) < 100


def test_pages_go_back_through_a_topic_newest_first(stack: EphemeralStack) -> None:
    TopicAdmin().create(["lasair_9pages"], partitions=1)
    producer = output_producer()
    for batch in range(3):  # three batches, as three matcher runs would write them
        for i in range(batch * 10, batch * 10 + (5 if batch == 2 else 10)):
            producer.produce("lasair_9pages", json.dumps({"n": i}).encode(), key=str(i))
        producer.flush()
    assert len(read_topic(stack.bootstrap, "lasair_9pages", expected=25)) == 25

    pages = all_pages(TopicReader(), "lasair_9pages", limit=10)
    assert [[json.loads(r.value)["n"] for r in page] for page in pages] == [
        list(range(24, 14, -1)), list(range(14, 4, -1)), [4, 3, 2, 1, 0]]
    assert pages[0][0].key == b"24" and pages[0][0].timestamp_ms > 0


def test_two_partitions_merge_by_time_and_each_record_is_shown_once(stack: EphemeralStack) -> None:
    TopicAdmin().create(["lasair_9two"], partitions=2)
    producer = Producer(stack.client_config())
    for i in range(13):  # alternate partitions, one second apart
        producer.produce("lasair_9two", str(i).encode(), partition=i % 2, timestamp=1_800_000_000_000 + i * 1000)
    producer.flush(30)
    pages = all_pages(TopicReader(), "lasair_9two", limit=4)
    assert [[int(r.value) for r in page] for page in pages] == [[12, 11, 10, 9], [8, 7, 6, 5], [4, 3, 2, 1], [0]]


def test_a_page_stays_within_its_byte_budget(stack: EphemeralStack) -> None:
    TopicAdmin().create(["lasair_9big"], partitions=1)
    producer = output_producer()
    for i in range(5):
        producer.produce("lasair_9big", json.dumps({"n": i, "pad": "x" * 100_000}).encode())
    producer.flush()
    pages = all_pages(TopicReader(), "lasair_9big", limit=20, max_bytes=250_000)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [json.loads(r.value)["n"] for page in pages for r in page] == [4, 3, 2, 1, 0]


def test_a_missing_topic_reads_as_missing(stack: EphemeralStack) -> None:
    page = TopicReader().tail("lasair_9nothing", limit=5)
    assert page.exists is False and page.records == [] and page.next_before is None


@pytest.fixture
def api_host(stack: EphemeralStack) -> Iterator[str]:
    with stack.api() as url:
        yield url


def test_the_records_route_shows_the_reseeded_records_to_the_owner_only(stack: EphemeralStack, api_host: str) -> None:
    seed_objects(generate_alerts(30, seed=21))
    _ada, ada_token = UserStore().add("Ada", "ada@example.org")
    _bob, bob_token = UserStore().add("Bob", "bob@example.org")
    api, bob = ApiClient(api_host, ada_token), ApiClient(api_host, bob_token)
    saved = api.post("/filters", {"name": "mine", "selected": "objects.diaObjectId, objects.nDiaSources",
                                  "tables": "objects", "conditions": "objects.nDiaSources >= 2",
                                  "output": "kafka_lite", "on_alert": True})
    fid, topic = saved["filter"]["filter_id"], saved["topic"]
    assert saved["reseeded"] == 10

    page = api.get(f"/filters/{fid}/records?limit=6")
    assert page["topic"] == topic and len(page["records"]) == 6 and page["next_before"] == "0:4"
    older = api.get(f"/filters/{fid}/records?limit=6&before={page['next_before']}")
    shown = page["records"] + older["records"]
    assert [r["offset"] for r in shown] == list(range(9, -1, -1)) and older["next_before"] is None
    consumed = {json.loads(r.value)["diaObjectId"]: r for r in read_topic(stack.bootstrap, topic, expected=10)}
    for record in shown:  # exactly what a consumer of the topic reads
        value = record["value"]
        assert set(value) == {"diaObjectId", "nDiaSources", "UTC", "alert"}
        assert json.loads(consumed[value["diaObjectId"]].value) == value
        assert record["key"] == str(value["diaObjectId"]) and record["headers"]["filter_id"] == fid

    with pytest.raises(ApiError) as refused:
        bob.get(f"/filters/{fid}/records")
    assert refused.value.status == 404
    api.patch(f"/filters/{fid}", {"version": 1, "public": True})
    assert len(bob.get(f"/filters/{fid}/records")["records"]) == 10  # a public filter's topic: anyone signed in
