"""Lasair's REST API (/api/...) through the powertools resolver with the HTTP API's event shape (issue 18).

DynamoDB is moto in-process (objects in the real store, so cones go through the real ``by-sky``
index); the filter service's recent objects, Kafka topics and producer are the fakes of ``test_api``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from fakes import RecordingPublisher
from test_api import BODY, World, world  # noqa: F401  (world is a fixture)

from skystream import wiring as stores
from skystream.api.app import app, openapi_document
from skystream.local.handlers import LocalLambdaContext
from skystream.local.http_api import http_api_event
from skystream.services.annotations import AnnotationService
from skystream.storage.annotations import AnnotationStore
from skystream.storage.annotators import AnnotatorRegistry
from skystream.storage.context import ContextStore
from skystream.storage.objects import ObjectStore
from skystream.storage.users import UserStore
from skystream.wiring import api as wiring

LITE = {"diaSourcesList": [{"psfFlux": 10.0, "psfFluxErr": 1.0, "midpointMjdTai": 61000.0, "band": "g",
                            "reliability": 0.9}], "diaForcedSourcesList": []}


def call(method: str, path: str, *, token: str | None = None, query: dict[str, Any] | None = None,
         form: dict[str, Any] | None = None, json_body: Any = None, content_type: str | None = None,
         raw: bytes | None = None, source: str = "127.0.0.1") -> tuple[int, dict[str, str], Any]:
    headers: dict[str, str] = {}
    body = b""
    if token:
        headers["authorization"] = f"Token {token}"
    if form is not None:
        body, headers["content-type"] = urlencode(form).encode(), "application/x-www-form-urlencoded"
    elif json_body is not None:
        body, headers["content-type"] = json.dumps(json_body).encode(), "application/json"
    if raw is not None:
        body = raw
    if content_type:
        headers["content-type"] = content_type
    url = path + ("?" + urlencode(query) if query else "")
    response = app.resolve(http_api_event(method, url, headers, body, source), LocalLambdaContext("api"))
    text = response.get("body") or ""
    return response["statusCode"], response.get("headers") or {}, json.loads(text) if text else None


def store_objects(*positions: tuple[int, float, float]) -> None:
    store = ObjectStore()
    for object_id, ra, decl in positions:
        store.upsert_if_newer({"diaObjectId": object_id, "ra": ra, "decl": decl, "nDiaSources": 3,
                               "lastDiaSourceMjdTai": 61000.0}, LITE, schema_version="11.1")


def test_cone_answers_lasair_shapes_from_query_form_or_json(world: World) -> None:  # noqa: F811
    store_objects((1, 10.0, 20.0), (2, 10.0, 20.0 + 5 / 3600), (3, 10.0, 20.0 + 30 / 3600), (4, 200.0, -30.0))
    params = {"ra": 10.0, "dec": 20.0, "radius": 10.0, "requestType": "all"}
    answers = [call("GET", "/api/cone/", token=world.token, query=params),
               call("POST", "/api/cone/", token=world.token, form=params),
               call("POST", "/api/cone/", token=world.token, json_body=params),
               call("GET", "/api/cone/", query={**params, "token": world.token, "format": "json"})]
    for status, _headers, body in answers:
        assert status == 200, body
        assert [o["object"] for o in body["objects"]] == [1, 2] and body["count"] == 2
        assert body["nearest"]["object"] == 1 and body["objects"][1]["separation"] == pytest.approx(5.0, abs=1e-6)
    _, _, nearest = call("POST", "/api/cone/", token=world.token, form={**params, "requestType": "nearest"})
    assert nearest == {"nearest": {"object": 1, "separation": pytest.approx(0.0, abs=1e-6)}}
    _, _, count = call("POST", "/api/cone/", token=world.token, form={**params, "radius": 60, "requestType": "count"})
    assert count == {"count": 3}
    _, _, empty = call("POST", "/api/cone/", token=world.token, form={**params, "ra": 50.0, "requestType": "nearest"})
    assert empty == {}
