"""GET /filters/{id}/records (the web page's stream view) through the resolver, and the checker's ``part``.

The filters table is moto in-process; the topic is the in-memory fake of the TopicTail port, so
these tests are about who may look, what a page says and how the cursor travels. Reading a
real topic (paging, sizes, partitions, a missing topic) is tests/integration/test_topic_tail.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fakes import MemoryTopicTail
from moto_tables import template_tables

from skystream.api.app import app
from skystream.domain.errors import FilterRejected
from skystream.domain.filters import FilterSpec, StoredFilter
from skystream.domain.records import KafkaRecord
from skystream.local.handlers import LocalLambdaContext
from skystream.local.http_api import http_api_event
from skystream.services.filter_records import FilterRecords, format_cursor, parse_cursor
from skystream.services.filters import checked_spec
from skystream.storage.filters import FilterStore
from skystream.storage.users import UserStore
from skystream.wiring import api as wiring

TOPIC = "lasair_1bright"


def record(offset: int, value: bytes, key: bytes | None = None) -> KafkaRecord:
    return KafkaRecord(TOPIC, 0, offset, value, key=key, headers={"filter_id": b"f1", "schema_version": b"11.1"},
                       timestamp_ms=1_800_000_000_000 + offset * 1000)


@dataclass
class World:
    tail: MemoryTopicTail
    tokens: dict[str, str]

    def get(self, path: str, who: str = "ada") -> tuple[int, Any]:
        headers = {"authorization": f"Token {self.tokens[who]}"} if who else {}
        response = app.resolve(http_api_event("GET", path, headers, b"", "127.0.0.1"), LocalLambdaContext("api"))
        return response["statusCode"], json.loads(response["body"])


def stored(filter_id: str, owner: int, *, public: bool = False, output: str = "kafka_lite",
           topic: str | None = TOPIC) -> StoredFilter:
    return StoredFilter(filter_id=filter_id, owner=owner, name=filter_id, selected="objects.diaObjectId",
                        tables="objects", output=output, public=public, topic=topic, created="2026-01-01T00:00:00+00:00",
                        modified="2026-01-01T00:00:00+00:00")


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with template_tables(monkeypatch):
        users = UserStore()
        ada, ada_token = users.add("Ada", "ada@example.org")
        _bob, bob_token = users.add("Bob", "bob@example.org")
        store = FilterStore()
        store.put(stored("private1", ada.user_id))
        store.put(stored("public01", ada.user_id, public=True, topic="lasair_1shared"))
        store.put(stored("emailing", ada.user_id, output="email", topic=None))
        values = [json.dumps({"diaObjectId": 3000 + i, "ra": 1.5 * i, "UTC": "2026-12-07 10:00:00"}).encode()
                  for i in range(25)]
        tail = MemoryTopicTail({TOPIC: [record(i, v, key=str(3000 + i).encode()) for i, v in enumerate(values)],
                                "lasair_1shared": [record(0, b"not json \xff")]})
        monkeypatch.setattr(wiring, "filter_records", lambda: FilterRecords(FilterStore(), tail))
        yield World(tail, {"ada": ada_token, "bob": bob_token})


def test_the_owner_pages_back_through_the_topic(world: World) -> None:
    status, page = world.get("/filters/private1/records?limit=10")
    assert status == 200, page
    assert page["topic"] == TOPIC and [r["offset"] for r in page["records"]] == list(range(24, 14, -1))
    first = page["records"][0]
    assert first["value"] == {"diaObjectId": 3024, "ra": 36.0, "UTC": "2026-12-07 10:00:00"}
    assert first["key"] == "3024" and first["headers"] == {"filter_id": "f1", "schema_version": "11.1"}
    assert first["timestamp"] == "2027-01-15T08:00:24.000+00:00" and first["size"] > 0
    assert page["next_before"] == "0:15" and "newest first" in page["message"] and page["complete"] is True

    status, older = world.get(f"/filters/private1/records?limit=10&before={page['next_before']}")
    assert status == 200 and [r["offset"] for r in older["records"]] == list(range(14, 4, -1))
    status, oldest = world.get(f"/filters/private1/records?limit=10&before={older['next_before']}")
    assert [r["offset"] for r in oldest["records"]] == [4, 3, 2, 1, 0]
    assert oldest["next_before"] is None and "no older records" in oldest["message"]
    assert world.tail.calls == [(TOPIC, 10, None), (TOPIC, 10, {0: 15}), (TOPIC, 10, {0: 5})]


def test_another_users_private_filter_is_not_found_and_a_public_one_is_readable(world: World) -> None:
    status, body = world.get("/filters/private1/records", who="bob")
    assert status == 404 and body["error"] == "not_found"
    assert world.tail.calls == []  # refused before the topic was touched
    status, page = world.get("/filters/public01/records", who="bob")
    assert status == 200 and page["topic"] == "lasair_1shared"
    assert page["records"][0]["value"] == "not json \ufffd"  # not JSON: shown as text, never lost
    status, body = world.get("/filters/public01/records", who="")
    assert status == 401


def test_what_cannot_be_shown_says_why(world: World) -> None:
    status, body = world.get("/filters/emailing/records")
    assert status == 400 and "has output email" in body["detail"] and "kafka_plain" in body["detail"]
    status, body = world.get("/filters/private1/records?before=yesterday")
    assert status == 400 and "next_before" in body["detail"]
    status, body = world.get("/filters/private1/records?limit=1000")
    assert status == 422 and body["problems"][0]["where"] == "query.limit"
    world.tail.logs.pop(TOPIC)
    status, page = world.get("/filters/private1/records")
    assert status == 200 and page["records"] == [] and "does not exist" in page["message"]
    world.tail.logs[TOPIC] = []
    status, page = world.get("/filters/private1/records")
    assert status == 200 and "has no records yet" in page["message"] and page["next_before"] is None


def test_the_route_is_in_the_openapi_document(world: World) -> None:
    response = app.resolve(http_api_event("GET", "/openapi.json", {}, b"", "127.0.0.1"), LocalLambdaContext("api"))
    paths = json.loads(response["body"])["paths"]
    operation = paths["/filters/{filter_id}/records"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"filter_id", "limit", "before"}
    assert not [p for p in paths if p == "/" or p.startswith("/web")]  # the page's files are not API routes


def test_cursors_round_trip_and_refuse_what_is_not_one() -> None:
    assert parse_cursor("0:120,3:7") == {0: 120, 3: 7} and format_cursor({3: 7, 0: 120}) == "0:120,3:7"
    assert parse_cursor(None) is None and parse_cursor(" ") is None and format_cursor(None) is None
    for bad in ("0", "a:1", "0:-1", "1:2,", "0:" + "9" * 20):
        with pytest.raises(Exception, match="is not a cursor"):
            parse_cursor(bad)


@pytest.mark.parametrize(("fields", "part", "at"), [
    ({"selected": "objects.diaObjectId, objects.nope"}, "selected", "objects.nope"),
    ({"conditions": "objects.ra > 1 AND objects.gmag < 19"}, "conditions", "objects.gmag"),
    ({"tables": "objects, sherlock"}, "tables", "sherlock"),
])
def test_a_refusal_names_the_part_it_points_into(fields: dict[str, str], part: str, at: str) -> None:
    """The web page puts the message under this field, at this offset of the field's text."""
    spec = FilterSpec(**{"name": "x", "selected": "objects.diaObjectId", "tables": "objects", **fields})
    with pytest.raises(FilterRejected) as info:
        checked_spec(spec)
    text = fields[part]
    assert info.value.part == part and info.value.position == text.index(at), info.value.detail
    assert info.value.body()["part"] == part


def test_a_refusal_of_a_whole_statement_points_into_it_without_a_part() -> None:
    sql = "SELECT objects.diaObjectId FROM objects WHERE objects.gmag < 19"
    with pytest.raises(FilterRejected) as info:
        checked_spec(FilterSpec(name="x", sql=sql))
    assert info.value.part is None and info.value.position == sql.index("objects.gmag")
