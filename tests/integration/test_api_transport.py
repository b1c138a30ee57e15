"""Hostile requests through the real local HTTP API (sockets, the API Gateway event, moto's server).

Where the transport matters: a body that Python's json cannot read arrives as bytes on a
socket; a Retry-After header must reach the client; a body too big is refused before it is
read; and an upload that fails must leave nothing in the real (moto) table. On main 737fbe3
the deep body and the 5,000-digit number were 500s (also without a token), wrong tokens were
never throttled, and 25 of the 30 items of a bad upload were stored.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from skystream.api.auth import MAX_FAILURES
from skystream.aws import client
from skystream.config import settings
from skystream.local.testing import EphemeralStack
from skystream.storage.annotators import AnnotatorRegistry
from skystream.storage.users import UserStore


@dataclass
class Http:
    port: int

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
             ) -> tuple[int, dict[str, str], Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            raw = response.read()
            return response.status, dict(response.getheaders()), json.loads(raw) if raw else None
        finally:
            connection.close()


@pytest.fixture
def api(stack: EphemeralStack) -> Iterator[Http]:
    with stack.api() as url:
        yield Http(int(url.rsplit(":", 1)[1]))


def test_a_body_nested_100000_deep_is_a_400_without_a_token_and_the_api_lives_on(api: Http) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/filters", "/annotations", "/filters/run"):
        status, _, body = api.send("POST", path, deep)
        assert status == 400 and body["error"] == "bad_request", body
        assert "more than 64 levels deep" in body["detail"]
    _, token = UserStore().add("Ada", "ada@example.org")
    number = b'{"name": "q", "selected": "objects.diaObjectId", "tables": "objects", "byte_quota": ' + b"7" * 5000 + b"}"
    status, _, body = api.send("POST", "/filters", number, {"Authorization": f"Token {token}"})
    assert status == 400 and "a number of 5000 characters at line 1, column 85" in body["detail"]
    assert api.send("GET", "/health")[0] == 200
    assert api.send("GET", "/me", headers={"Authorization": f"Token {token}"})[2]["name"] == "Ada"


def test_wrong_tokens_get_429_with_retry_after_over_http(api: Http) -> None:
    _, token = UserStore().add("Ada", "ada@example.org")
    statuses = [api.send("GET", "/me", headers={"Authorization": f"Token guess{i}"})[0] for i in range(MAX_FAILURES)]
    assert statuses == [401] * MAX_FAILURES
    status, headers, body = api.send("GET", "/me", headers={"Authorization": "Token one-more-guess"})
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60 and body["retry_after"] == int(headers["Retry-After"])
    assert api.send("GET", "/me", headers={"Authorization": f"Token {token}"})[0] == 429  # 127.0.0.1 is throttled


def test_a_body_over_10_mb_is_refused_unread_and_a_bad_length_is_a_400(api: Http) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        connection.putrequest("POST", "/filters")
        connection.putheader("Content-Length", str(11 * 1024 * 1024))
        connection.endheaders()  # the body is never sent: the answer must not wait for it
        response = connection.getresponse()
        assert response.status == 413 and "at most 10485760" in json.loads(response.read())["detail"]
    finally:
        connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        connection.putrequest("POST", "/filters")
        connection.putheader("Content-Length", "12abc")
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 400 and "is not a number" in json.loads(response.read())["detail"]
    finally:
        connection.close()


def test_a_30_item_upload_with_an_id_beyond_int64_last_stores_nothing(api: Http) -> None:
    owner, token = UserStore().add("Ada", "ada@example.org")
    AnnotatorRegistry().add("myclassifier", owner.user_id)
    items = [{"annotator": "myclassifier", "diaObjectId": 1000 + i, "classification": "SN"} for i in range(29)]
    items.append({"annotator": "myclassifier", "diaObjectId": 10**40, "classification": "SN"})
    status, _, body = api.send("POST", "/annotations", json.dumps(items).encode(), {"Authorization": f"Token {token}"})
    assert status == 400 and "annotation 29: diaObjectId" in body["detail"]
    assert client("dynamodb").scan(TableName=settings().annotations_table)["Items"] == []
