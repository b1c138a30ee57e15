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
from skystream.domain.objects import AlertToArchive
from skystream.local.handlers import LocalLambdaContext
from skystream.local.http_api import http_api_event
from skystream.services.annotations import AnnotationService
from skystream.storage.annotations import AnnotationStore
from skystream.storage.annotators import AnnotatorRegistry
from skystream.storage.archive import AlertArchive
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
    """Objects as ingest stores them: the full alert archived (its lists: ``LITE``'s), the item pointing at it."""
    store, archive = ObjectStore(), AlertArchive()
    for object_id, ra, decl in positions:
        [pointer] = archive.put_batch([AlertToArchive("11.1", full={"diaObject": {"diaObjectId": object_id}, **LITE})])
        store.upsert_if_newer({"diaObjectId": object_id, "ra": ra, "decl": decl, "nDiaSources": 3,
                               "lastDiaSourceMjdTai": 61000.0}, LITE, schema_version="11.1", pointer=pointer)


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


def test_the_key_may_be_a_query_parameter_on_the_lasair_api_only(world: World) -> None:  # noqa: F811
    status, _, body = call("GET", "/api/cone/", query={"ra": 1, "dec": 1, "radius": 1, "token": world.token})
    assert status == 200, body
    status, _, body = call("GET", "/filters", query={"token": world.token})
    assert status == 401 and body["error"] == "unauthorized"
    status, _, body = call("GET", "/api/cone/", query={"ra": 1, "dec": 1, "radius": 1, "token": "wrong"})
    assert status == 401 and "not valid" in body["detail"]
    status, _, body = call("POST", "/api/cone/", form={"ra": 1, "dec": 1, "radius": 1})
    assert status == 401


def test_every_refusal_but_401_and_429_is_a_400_with_the_reason(world: World) -> None:  # noqa: F811
    status, _, body = call("POST", "/api/cone/", token=world.token, form={"ra": 1, "radius": 1})
    assert status == 400 and body["detail"] == "dec: is required"
    status, _, body = call("POST", "/api/cone/", token=world.token, form={"ra": 1, "dec": 1, "radius": 1001})
    assert status == 400 and "at most 1000 arcsec" in body["detail"]
    status, _, body = call("POST", "/api/cone/", token=world.token, form={"ra": 361, "dec": 1, "radius": 1})
    assert status == 400 and "ra must be between 0 and 360" in body["detail"]
    status, _, body = call("POST", "/api/cone/", token=world.token, form={"ra": "x", "dec": 1, "radius": 1})
    assert status == 400 and body["detail"].startswith("ra: ")
    status, _, body = call("POST", "/api/object/", token=world.token, form={"objectId": 999})
    assert status == 400 and body["error"] == "not_found" and "no object 999" in body["detail"]  # 404 elsewhere
    assert call("GET", "/objects/999", token=world.token)[0] == 404
    status, _, body = call("POST", "/api/cone/", token=world.token, raw=b"ra=1", content_type="text/plain")
    assert status == 400 and "text/plain" in body["detail"]
    status, _, body = call("POST", "/api/cone/", token=world.token, query={"ra": 1}, form={"ra": 2, "dec": 1,
                                                                                             "radius": 1})
    assert status == 400 and "'ra' is given in the query string and in the body" in body["detail"]


def test_unknown_parameters_are_ignored_as_lasair_does_and_named_in_a_header(world: World) -> None:  # noqa: F811
    status, headers, body = call("POST", "/api/cone/", token=world.token,
                                 form={"ra": 1, "dec": 1, "radius": 1, "radious": 5, "colour": "red"})
    assert status == 200 and body == {"objects": [], "count": 0, "nearest": {}}
    assert headers["X-Skystream-Ignored-Parameters"] == "colour,radious"


def test_a_form_body_is_not_read_as_json_but_a_json_classdict_inside_it_is_checked(world: World, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    published = RecordingPublisher()
    AnnotatorRegistry().add("myclassifier", 1)
    monkeypatch.setattr(wiring, "annotation_service",
                        lambda: AnnotationService(AnnotationStore(), AnnotatorRegistry(), published))
    # "[[[[" and a 150-digit run are text in a form; the JSON body checks refused them (400) before
    form = {"topic": "myclassifier", "objectId": 42, "classification": "SN", "version": "0.1",
            "explanation": "[" * 200 + "1" * 150, "classdict": json.dumps({"prob": 0.93}), "url": ""}
    status, _, body = call("POST", "/api/annotate/", token=world.token, form=form)
    assert status == 200, body
    assert body["status"] == "success" and json.loads(body["message"])["classdict"] == {"prob": 0.93}
    deep = {**form, "classdict": "[" * 100 + "]" * 100}
    status, _, body = call("POST", "/api/annotate/", token=world.token, form=deep)
    assert status == 400 and "nests arrays and objects more than 64 levels" in body["detail"]
    status, _, body = call("POST", "/api/annotate/", token=world.token, form={**form, "classdict": "[1, 2]"})
    assert status == 400 and "classdict must be a JSON object" in body["detail"]
    assert len(published.events) == 1


def test_annotate_and_annotatelist_do_what_post_annotations_does(world: World, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    published = RecordingPublisher()
    AnnotatorRegistry().add("myclassifier", 1)
    AnnotatorRegistry().add("theirs", 2)
    monkeypatch.setattr(wiring, "annotation_service",
                        lambda: AnnotationService(AnnotationStore(), AnnotatorRegistry(), published))
    # the lasair client's annotate(): a form, classdict as a JSON string
    status, _, body = call("POST", "/api/annotate/", token=world.token, form={
        "topic": "myclassifier", "objectId": 501, "classification": "SN", "version": "0.1",
        "explanation": "bright", "classdict": json.dumps({"prob": 0.9}), "url": "https://example.org/501"})
    assert status == 200 and body["annotation_topic"] == stores.settings().topic_annotations
    # its annotate_list(): JSON, classdict strings inside; an object as classdict works too
    status, _, body = call("POST", "/api/annotatelist/", token=world.token, json_body={"annotations": [
        {"topic": "myclassifier", "objectId": 502, "classification": "AGN", "classdict": json.dumps({"p": 1})},
        {"topic": "myclassifier", "objectId": 503, "classification": "VS", "classdict": {"p": 2}}]})
    assert status == 200 and body == {"status": "success", "n": 2}
    status, _, native = call("GET", "/objects/501/annotations", token=world.token)
    assert native["annotations"][0]["classdict"] == '{"prob":0.9}' and native["annotations"][0]["url"].endswith("501")
    assert [(e.diaObjectId, e.annotator, e.classification) for e in published.events] == [
        (501, "myclassifier", "SN"), (502, "myclassifier", "AGN"), (503, "myclassifier", "VS")]
    # the caller must own the annotator: 400 with the reason (403 on POST /annotations)
    status, _, body = call("POST", "/api/annotate/", token=world.token, form={
        "topic": "theirs", "objectId": 501, "classification": "SN", "classdict": "{}"})
    assert status == 400 and body["error"] == "forbidden" and "belongs to another user" in body["detail"]
    status, _, body = call("POST", "/api/annotatelist/", token=world.token, json_body={"annotations": [
        {"topic": "myclassifier", "objectId": 504, "classification": "SN"}, {"topic": "myclassifier"}]})
    assert status == 400 and "annotation 1: diaObjectId: is required" in body["detail"]  # Lasair: objectId
    assert len(published.events) == 3  # all or nothing


def test_query_answers_the_rows_of_the_run_route_with_limit_and_offset(world: World) -> None:  # noqa: F811
    parts = {"selected": "objects.diaObjectId, objects.nDiaSources", "tables": "objects",
             "conditions": "objects.nDiaSources >= 3"}
    status, native = world.call("POST", "/filters/run", {**parts, "output": "none", "limit": 1000})
    assert status == 200
    status, headers, rows = call("POST", "/api/query/", token=world.token, form={**parts, "limit": 1000})
    assert status == 200 and rows == native["rows"] and len(rows) == 27
    assert headers["X-Skystream-Query-Scope"].startswith("recent-objects")
    _, _, page = call("GET", "/api/query/", token=world.token, query={**parts, "limit": 5, "offset": 10})
    assert page == native["rows"][10:15]
    status, _, body = call("POST", "/api/query/", token=world.token, form={**parts, "conditions": "objects.nope > 1"})
    assert status == 400 and body["error"] == "invalid_filter" and "nope" in body["detail"]
    _, _, everything = call("POST", "/api/query/", token=world.token, form={**parts, "conditions": ""})
    assert len(everything) == 30


def test_object_page_in_lasairs_shape(world: World) -> None:  # noqa: F811
    store_objects((77, 150.0, 2.5))
    ContextStore().put_rows("sherlock_classifications", [{"diaObjectId": 77, "classification": "SN",
                                                          "description": "near a galaxy"}])
    status, _, page = call("POST", "/api/object/", token=world.token, form={"objectId": 77, "lite": True})
    assert status == 200, page
    assert page["diaObjectId"] == 77 and page["diaObject"] == {"ra": 150.0, "decl": 2.5, "firstDiaSourceMjdTai": None,
                                                               "lastDiaSourceMjdTai": 61000.0}
    assert page["lasairData"]["nDiaSources"] == 3 and "ra" not in page["lasairData"]
    assert page["lasairData"]["sherlock"]["classification"] == "SN" and page["lasairData"]["TNS"] == {}
    assert page["lasairData"]["annotations"] == [] and page["lasairData"]["imageUrls"] == []
    assert page["diaSourcesList"] == LITE["diaSourcesList"] and page["diaForcedSourcesList"] == []
    _, _, bare = call("GET", "/api/object/", token=world.token, query={"objectId": 77, "lite": "True",
                                                                       "lasair_added": "False"})
    assert bare == {"diaObjectId": 77, **LITE}


def test_sherlock_object_and_position_from_the_context_rows(world: World) -> None:  # noqa: F811
    store_objects((81, 30.0, -60.0), (82, 30.0, -60.0 + 1.5 / 3600), (83, 30.0, -60.0 + 10 / 3600))
    ContextStore().put_rows("sherlock_classifications", [
        {"diaObjectId": 81, "classification": "SN", "description": "d81"},
        {"diaObjectId": 83, "classification": "VS", "description": "d83"}])
    status, _, body = call("POST", "/api/sherlock/object/", token=world.token, form={"objectId": 81, "lite": True})
    assert status == 200 and body["classifications"] == {"81": ["SN", "d81"]}
    assert body["crossmatches"][0]["classification"] == "SN"
    status, _, body = call("POST", "/api/sherlock/object/", token=world.token, form={"objectId": 82})
    assert status == 400 and "no Sherlock classification is stored for object 82" in body["detail"]
    status, _, body = call("POST", "/api/sherlock/position/", token=world.token, form={"ra": 30.0, "dec": -60.0})
    assert status == 200 and body["classifications"] == {"81": ["SN", "d81"]}  # 82 has no row, 83 is 10" away
    _, _, wide = call("POST", "/api/sherlock/position/", token=world.token, form={"ra": 30.0, "dec": -60.0,
                                                                                  "radius": 20})
    assert list(wide["classifications"]) == ["81", "83"]
    assert wide["crossmatches"][1]["objectSeparationArcsec"] == pytest.approx(10.0, abs=1e-6)


def test_each_tier_gets_its_hourly_calls_then_429_with_the_limit_and_reset(world: World, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("API_CALLS_PER_HOUR_ANONYMOUS", "2")
    monkeypatch.setenv("API_CALLS_PER_HOUR_USER", "3")
    monkeypatch.setenv("API_CALLS_PER_HOUR_POWER", "5")
    stores.settings.cache_clear()
    users = UserStore()
    _, public_key = users.add("Public", "public@example.org", api_tier="anonymous")
    power, power_key = users.add("Pat", "pat@example.org")
    users.set_tier(power.user_id, "power")
    cone = {"ra": 1, "dec": 1, "radius": 1}
    for key, limit in ((public_key, 2), (world.token, 3), (power_key, 5)):
        for n in range(1, limit + 1):
            status, headers, _ = call("POST", "/api/cone/", token=key, form=cone)
            assert status == 200 and headers["X-RateLimit-Limit"] == str(limit)
            assert headers["X-RateLimit-Remaining"] == str(limit - n)
        status, headers, body = call("POST", "/api/cone/", token=key, form=cone)
        assert status == 429 and body["error"] == "api_limit_exceeded" and body["limit"] == limit
        assert headers["X-RateLimit-Remaining"] == "0" and int(headers["Retry-After"]) <= 3600
        assert 0 < int(headers["X-RateLimit-Reset"]) - __import__("time").time() <= 3600
    # the quota is the Lasair API's: the rest of the API is not counted
    assert world.call("GET", "/filters")[0] == 200


def test_the_openapi_document_lists_the_lasair_routes_and_their_parameters(world: World) -> None:  # noqa: F811
    doc = openapi_document(app)
    paths = {"/api/cone/", "/api/query/", "/api/object/", "/api/sherlock/object/", "/api/sherlock/position/",
             "/api/annotate/", "/api/annotatelist/"}
    assert paths <= set(doc["paths"])
    cone = doc["paths"]["/api/cone/"]
    assert {p["name"]: p["required"] for p in cone["get"]["parameters"]} == {
        "ra": True, "dec": True, "radius": True, "requestType": False, "token": False}
    body = cone["post"]["requestBody"]["content"]
    assert set(body) == {"application/x-www-form-urlencoded", "application/json"}
    assert set(doc["components"]["schemas"]["ConeParams"]["required"]) == {"ra", "dec", "radius"}
    assert {"400", "401", "429"} <= set(cone["post"]["responses"])
    assert doc["components"]["securitySchemes"]["queryToken"]["in"] == "query"


def test_the_stage_throttles_the_lasair_route_apart_from_the_rest() -> None:
    from test_template import TEMPLATE, translate

    resources = translate(TEMPLATE.read_text())["Resources"]
    paths = resources["HttpApi"]["Properties"]["Body"]["paths"]  # SAM declares the routes in the API's OpenAPI body
    assert {"/{proxy+}", "/api/{proxy+}"} <= set(paths)
    assert "FilterApiFunction" in json.dumps(paths["/api/{proxy+}"])
    (stage,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert stage["RouteSettings"]["ANY /api/{proxy+}"] == {"ThrottlingBurstLimit": 50, "ThrottlingRateLimit": 20}
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 100


def test_auth_token_says_it_is_not_built_and_how_keys_are_made(world: World) -> None:  # noqa: F811
    status, _, body = call("POST", "/api/auth-token/", form={"username": "ada", "password": "secret"})
    assert status == 501 and body["error"] == "not_implemented" and "skystream users add" in body["detail"]
    assert "/api/auth-token/" not in openapi_document(app)["paths"]  # the document lists what is built


def test_a_wrong_query_token_counts_against_the_address_as_a_wrong_header_does(world: World) -> None:  # noqa: F811
    cone = {"ra": 1, "dec": 1, "radius": 1}
    for n in range(10):
        assert call("GET", "/api/cone/", query={**cone, "token": f"guess{n}"}, source="10.9.9.9")[0] == 401
    status, headers, body = call("GET", "/api/cone/", query={**cone, "token": world.token}, source="10.9.9.9")
    assert status == 429 and body["error"] == "too_many_requests" and "Retry-After" in headers
    status, headers, _ = call("GET", "/api/cone/", query={**cone, "token": world.token, "format": "json"})
    assert status == 200 and "X-Skystream-Ignored-Parameters" not in headers  # format is Lasair's, not unknown


def test_query_rows_are_capped_by_the_callers_tier(world: World, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from skystream.api import lasair_routes

    monkeypatch.setitem(lasair_routes.QUERY_ROW_CAPS, "anonymous", 3)  # Lasair's 1,000, made visible on 30 objects
    _, public_key = UserStore().add("Public", "public@example.org", api_tier="anonymous")
    parts = {"selected": "objects.diaObjectId", "tables": "objects", "conditions": "", "limit": 10}
    assert len(call("POST", "/api/query/", token=public_key, form=parts)[2]) == 3
    assert len(call("POST", "/api/query/", token=world.token, form=parts)[2]) == 10
