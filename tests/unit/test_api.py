"""The API as a user meets it, through the powertools resolver with the HTTP API's event shape.

DynamoDB is moto in-process; Kafka topics, recent objects and the producer are fakes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fakes import MemoryObjects, MemoryQuota, RecordingAccess, RecordingProducer, RecordingTopics, matcher
from moto_tables import template_tables

from skystream.api.app import app
from skystream.config import settings
from skystream.local.handlers import LocalLambdaContext
from skystream.local.http_api import http_api_event
from skystream.ports import ObjectReader, QuotaCounter, RecordProducer, TopicAccess, Topics
from skystream.services.filters import FilterLimits, FilterService
from skystream.services.joins import Joins
from skystream.services.watchlists import WatchlistMatcher
from skystream.services.watchmaps import WatchmapMatcher
from skystream.storage.annotations import AnnotationStore
from skystream.storage.context import ContextStore
from skystream.storage.filters import FilterStore
from skystream.storage.rates import RateStore
from skystream.storage.users import UserStore
from skystream.storage.watchlists import WatchlistStore
from skystream.storage.watchmaps import WatchmapStore
from skystream.wiring import api as wiring


def recent_objects(count: int) -> MemoryObjects:
    """``count`` objects, the most recent first (``lastDiaSourceMjdTai`` falling with the id)."""
    return MemoryObjects.of([{"diaObjectId": 500 + i, "ra": float(i), "decl": -1.0, "nDiaSources": i,
                              "lastDiaSourceMjdTai": 61000.0 - i} for i in range(count)],
                            lite={"diaSourcesList": [], "diaForcedSourcesList": []}, schema_version="11.1")


def filter_service(topics: Topics, objects: ObjectReader, producer: RecordProducer | None = None,
                   quota: QuotaCounter | None = None, access: TopicAccess | None = None) -> FilterService:
    """The filter service on the moto tables (filters, rates, annotations, context), with fake Kafka, ACLs and
    objects; the limits from the settings as they are now."""
    joins = Joins(annotations=AnnotationStore(), context=ContextStore(), watchlists=WatchlistMatcher(WatchlistStore()),
                  watchmaps=WatchmapMatcher(WatchmapStore()))
    return FilterService(FilterStore(), topics=topics, objects=objects,
                         matcher=matcher(producer=producer, quota=quota, joins=joins), joins=joins, rates=RateStore(),
                         limits=FilterLimits.of(settings()), access=access or RecordingAccess(),
                         watchlists=WatchlistStore(), watchmaps=WatchmapStore())


def into_objects_table(objects: MemoryObjects) -> None:
    """The fake's objects written to moto's objects table (its sky index), where the rerun routes read them."""
    from skystream.storage.objects import ObjectStore

    store = ObjectStore()
    store.put_newest([(store.item(o.row, {}, dia_source_id=o.dia_object_id), None) for o in objects.stored.values()])


@dataclass
class World:
    topics: RecordingTopics
    producer: RecordingProducer
    token: str
    other_token: str

    def call(self, method: str, path: str, body: Any = None, token: str | None = "mine") -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        chosen = {"mine": self.token, "other": self.other_token}.get(token or "", token)
        if chosen:
            headers["authorization"] = f"Token {chosen}"
        raw = json.dumps(body).encode() if body is not None else b""
        response = app.resolve(http_api_event(method, path, headers, raw, "127.0.0.1"), LocalLambdaContext("api"))
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with template_tables(monkeypatch):
        topics, producer, quota, objects = RecordingTopics(), RecordingProducer(), MemoryQuota(), recent_objects(30)
        monkeypatch.setattr(wiring, "filter_service", lambda: filter_service(topics, objects, producer, quota))
        users = UserStore()
        _me, token = users.add("Ada", "ada@example.org")
        _other, other = users.add("Bob", "bob@example.org")
        yield World(topics, producer, token, other)


BODY = {"name": "Has abs mag", "selected": "objects.diaObjectId, objects.ra", "tables": "objects",
        "conditions": "objects.nDiaSources >= 3", "output": "kafka_plain", "on_alert": True}


def test_save_a_kafka_filter_names_its_topic_and_reseeds_ten(world: World) -> None:
    status, body = world.call("POST", "/filters", BODY)
    assert status == 201
    assert body["topic"] == "lasair_1Hasabsmag" and body["reseeded"] == 10
    assert body["filter"]["version"] == 1 and body["filter"]["active"] is True
    assert world.topics.log == [("delete", "lasair_1Hasabsmag"), ("create", "lasair_1Hasabsmag")]
    sent = [json.loads(value) for _, value, _, _ in world.producer.sent]
    assert len(sent) == 10 and all(r["diaObjectId"] >= 503 and set(r) == {"diaObjectId", "ra", "UTC"} for r in sent)


def test_a_whole_select_is_accepted_and_stored_as_three_parts(world: World) -> None:
    body = {"name": "sql form", "output": "none",
            "sql": "SELECT objects.diaObjectId FROM objects WHERE objects.nDiaSources > 20"}
    status, saved = world.call("POST", "/filters", body)
    assert status == 201, saved
    assert saved["filter"]["selected"] == "objects.diaObjectId" and saved["filter"]["tables"] == "objects"
    assert "20" in saved["filter"]["conditions"] and saved["topic"] is None
    status, ran = world.call("POST", f"/filters/{saved['filter']['filter_id']}/run?limit=5")
    assert status == 200 and ran["count"] == 5 and ran["truncated"] is True and ran["objects_scanned"] == 30


def test_errors_are_json_with_the_right_status(world: World) -> None:
    status, body = world.call("GET", "/filters", token=None)
    assert status == 401 and body["error"] == "unauthorized" and "Authorization: Token" in body["detail"]
    status, body = world.call("GET", "/filters", token="nope")
    assert status == 401 and "not valid" in body["detail"]
    status, body = world.call("POST", "/filters", {**BODY, "conditions": "objects.ra >> 'x' OR"})
    assert status == 400 and body["error"] == "invalid_filter" and body["detail"]
    status, body = world.call("POST", "/filters", {**BODY, "selected": "objects.ra"})
    assert status == 400 and "diaObjectId" in body["detail"]
    status, body = world.call("POST", "/filters", {**BODY, "on_annotation": True})
    assert status == 400 and "annotator" in body["detail"]
    status, body = world.call("POST", "/filters", {"name": "", "output": "fax", "extra": 1})
    assert status == 422 and body["error"] == "invalid_request"
    assert {"body.name", "body.output", "body.extra"} <= {p["where"] for p in body["problems"]}
    status, body = world.call("GET", "/filters/0123456789abcdef")
    assert status == 404 and body["error"] == "not_found"
    status, body = world.call("GET", "/nowhere")
    assert status == 404 and body["error"] == "no_such_route"
    assert world.call("POST", "/filters", BODY)[0] == 201
    topic_calls = len(world.topics.log)
    status, body = world.call("POST", "/filters", {**BODY, "name": "Has abs mag!"})
    assert status == 409 and body["error"] == "topic_clash" and body["topic"] == "lasair_1Hasabsmag"
    assert len(world.topics.log) == topic_calls  # refused before the first filter's topic was touched


def test_rename_moves_the_topic_and_a_stale_version_is_refused(world: World) -> None:
    _, saved = world.call("POST", "/filters", BODY)
    fid = saved["filter"]["filter_id"]
    world.topics.log.clear()
    status, renamed = world.call("PATCH", f"/filters/{fid}", {"version": 1, "name": "renamed"})
    assert status == 200 and renamed["topic"] == "lasair_1renamed"
    assert world.topics.topics == {"lasair_1renamed"}
    status, body = world.call("PUT", f"/filters/{fid}", {**BODY, "version": 1})
    assert status == 409 and body["error"] == "stale_version" and body["current_version"] == 2
    status, body = world.call("DELETE", f"/filters/{fid}", token="other")
    assert status == 404
    status, body = world.call("DELETE", f"/filters/{fid}")
    assert status == 200 and body == {"deleted": fid, "topic_deleted": "lasair_1renamed"}
    assert world.topics.topics == set()


def test_schema_lists_tables_with_described_columns_and_openapi_is_served(world: World) -> None:
    status, body = world.call("GET", "/schema")
    assert status == 200
    tables = {t["name"]: t for t in body["tables"]}
    assert {"objects", "sherlock_classifications", "crossmatch_tns", "annotations"} <= set(tables)
    decl = next(c for c in tables["objects"]["columns"] if c["name"] == "decl")
    assert decl["type"] and decl["description"]
    status, doc = world.call("GET", "/openapi.json", token=None)
    assert status == 200 and doc["openapi"].startswith("3.")
    assert {"/filters", "/filters/{filter_id}", "/filters/{filter_id}/run", "/schema"} <= set(doc["paths"])
    assert "token" in doc["components"]["securitySchemes"]


def test_a_body_that_is_not_utf8_is_a_400_and_every_422_is_documented_as_ours(world: World) -> None:
    headers = {"content-type": "application/json", "authorization": f"Token {world.token}"}
    event = http_api_event("POST", "/filters/run", headers, b"\xca0\xff", "127.0.0.1")
    response = app.resolve(event, LocalLambdaContext("api"))
    assert response["statusCode"] == 400 and "UTF-8" in json.loads(response["body"])["detail"]
    _, doc = world.call("GET", "/openapi.json", token=None)
    refs = {op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
            for ops in doc["paths"].values() for op in ops.values()}
    assert refs == {"#/components/schemas/ValidationErrorBody"}
    assert "problems" in doc["components"]["schemas"]["ValidationErrorBody"]["properties"]


def test_an_unsaved_query_runs_now_and_its_errors_name_the_problem(world: World) -> None:
    status, body = world.call("POST", "/filters/run", {"selected": "objects.diaObjectId, objects.nDiaSources",
                                                       "tables": "objects", "conditions": "objects.nDiaSources > 25",
                                                       "limit": 10})
    assert status == 200 and sorted(r["nDiaSources"] for r in body["rows"]) == [26, 27, 28, 29]
    assert body["count"] == 4 and body["truncated"] is False and body["elapsed_s"] >= 0
    status, body = world.call("POST", "/filters/run", {"sql": "SELECT objects.ra FROM objects; DROP TABLE objects"})
    assert status == 400 and body["error"] == "invalid_filter"
    status, body = world.call("POST", "/filters/run", {"tables": "objects"})
    assert status == 400 and "selected" in body["detail"]


def test_a_kafka_outage_during_save_is_a_503_that_says_the_filter_is_saved(world: World,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from confluent_kafka import KafkaError, KafkaException

    def down(*_args: Any, **_kwargs: Any) -> None:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, "broker down"))

    monkeypatch.setattr(world.topics, "create", down)
    status, body = world.call("POST", "/filters", BODY)
    assert status == 503 and body["error"] == "unavailable" and body["version"] == 1
    assert "is saved" in body["detail"] and "save it again" in body["detail"]
    status, listed = world.call("GET", "/filters")
    assert [f["filter_id"] for f in listed["filters"]] == [body["filter_id"]]


def test_schema_and_run_now_speak_lasair_lsst(world: World) -> None:
    """Issue 21: /schema shows objects_ext, objects.tns_name and why a column is NULL; a Lasair-style
    filter (objects_ext, objects-ext, tns_name, comments) runs now over TNS rows an administrator loaded."""
    from skystream.features.position import htm_index

    status, body = world.call("GET", "/schema")
    assert status == 200
    tables = {t["name"]: t for t in body["tables"]}
    assert "objects_ext" in tables and "objects" in tables["objects_ext"]["description"]
    assert {"g_psfFluxSigma", "raErr", "y_psfFluxErrMean"} <= {c["name"] for c in tables["objects_ext"]["columns"]}
    objects = {c["name"]: c for c in tables["objects"]["columns"]}
    assert objects["tns_name"]["null_reason"] is None and "TNS" in objects["tns_name"]["description"]
    assert "dust map" in objects["ebv"]["null_reason"] and objects["timestamp"]["null_reason"]
    assert {"htm16", "lasairmodified_date"} <= {c["name"] for c in tables["crossmatch_tns"]["columns"]}
    assert {"wl_id", "cone_id", "name", "arcsec", "diaObjectId"} == {c["name"] for c in tables["watchlist_hits"]["columns"]}
    assert {"ar_id", "diaObjectId"} == {c["name"] for c in tables["area_hits"]["columns"]}
    _, admin = UserStore().add("Root", "root@example.org", is_admin=True)
    status, loaded = world.call("POST", "/context/crossmatch_tns",
                                [{"diaObjectId": 503, "tns_name": "2026xyz", "ra": 3.0, "decl": -1.0}], token=admin)
    assert status == 200 and loaded["stored"] == 1
    status, ran = world.call("POST", "/filters/run", {
        "selected": "objects.diaObjectId, objects.tns_name, objects_ext.ra", "tables": "objects, objects_ext",
        "conditions": "objects.nDiaSources >= 2 -- not the first two\nAND objects-ext.decl < 0 # all of them", "limit": 100})
    assert status == 200, ran
    assert {r["diaObjectId"]: r["tns_name"] for r in ran["rows"]} == {
        500 + i: "2026xyz" if i == 3 else None for i in range(2, 30)}
    status, tns = world.call("POST", "/filters/run", {"selected": "crossmatch_tns.htm16, crossmatch_tns.lasairmodified_date",
                                                      "tables": "objects, crossmatch_tns", "conditions": ""})
    assert status == 200 and tns["count"] == 1
    assert tns["rows"][0]["htm16"] == htm_index(3.0, -1.0) and tns["rows"][0]["lasairmodified_date"]
    status, refused = world.call("POST", "/filters/run", {"selected": "objects.diaObjectId",
                                                          "tables": "objects, watchlist:3", "conditions": ""})
    assert status == 404 and refused["detail"].startswith("no watchlist 3:")  # issue 19: built; none of that id


def test_a_commented_lasair_filter_is_saved_as_written_and_runs(world: World) -> None:
    conditions = "-- saved from Lasair\nobjects.nDiaSources > 25 # well sampled\n/* no more */"
    status, saved = world.call("POST", "/filters", {"name": "commented", "output": "none", "selected":
                                                    "objects.diaObjectId", "tables": "objects", "conditions": conditions})
    assert status == 201, saved
    fid = saved["filter"]["filter_id"]
    status, shown = world.call("GET", f"/filters/{fid}")
    assert status == 200 and shown["conditions"] == conditions
    status, ran = world.call("POST", f"/filters/{fid}/run")
    assert status == 200 and sorted(r["diaObjectId"] for r in ran["rows"]) == [526, 527, 528, 529]


def test_watchlists_through_the_api_and_in_run_now(world: World) -> None:
    """Issue 19: create, list, show, export, patch, delete; run-now joins watchlist_hits; another user's
    private watchlist is answered as a missing one (404 no watchlist N) in a filter and on its own."""
    text = "ra, dec, name, radius\n3.0, -1.0, exact, 2\n7.0005, -1.0, near seven, 5\n20.01, -1.0, too far, 3\n"
    status, made = world.call("POST", "/watchlists", {"name": "my cvs", "text": text, "radius": 4.0})
    assert status == 201 and made["count"] == 3 and made["public"] is False and made["radius"] == 4.0, made
    wl = made["wl_id"]
    status, bad = world.call("POST", "/watchlists", {"name": "bad", "text": "1, 2, a\n1, 95, b\n"})
    assert status == 400 and bad["error"] == "invalid_watchlist" and bad["detail"].startswith("line 2: Dec '95'")
    status, listed = world.call("GET", "/watchlists")
    assert status == 200 and [w["wl_id"] for w in listed["watchlists"]] == [wl]
    status, exported = world.call("GET", f"/watchlists/{wl}/export")
    assert status == 200 and exported["text"].splitlines()[1:] == ["3.0, -1.0, exact, 2.0", "7.0005, -1.0, near seven, 5.0",
                                                                     "20.01, -1.0, too far, 3.0"]
    query = {"selected": "objects.diaObjectId, watchlist_hits.name, watchlist_hits.arcsec",
             "tables": f"objects, watchlist:{wl}", "conditions": "", "limit": 100}
    status, ran = world.call("POST", "/filters/run", query)
    assert status == 200, ran
    assert sorted((r["diaObjectId"], r["name"]) for r in ran["rows"]) == [(503, "exact"), (507, "near seven")]
    assert [round(r["arcsec"], 2) for r in sorted(ran["rows"], key=lambda r: r["diaObjectId"])] == [0.0, 1.8]
    into_objects_table(recent_objects(30))
    status, rerun = world.call("POST", f"/watchlists/{wl}/rerun")
    assert status == 200 and [(h["diaObjectId"], h["name"], round(h["arcsec"], 2)) for h in rerun["hits"]] == [
        (503, "exact", 0.0), (507, "near seven", 1.8)] and rerun["truncated"] is False, rerun
    status, hidden = world.call("POST", f"/watchlists/{wl}/rerun", token="other")
    assert status == 404 and hidden["detail"].startswith(f"no watchlist {wl}:")
    for path in (f"/watchlists/{wl}", f"/watchlists/{wl}/export"):
        status, hidden = world.call("GET", path, token="other")
        assert status == 404 and hidden["detail"].startswith(f"no watchlist {wl}:")
    _private_then_shared(world, "watchlist", wl, query, shared_query=query, shared_count=2)


def test_watchmaps_through_the_api_and_in_run_now(world: World) -> None:
    """Issue 19: watchmaps from a cone or a MOC's text; create, list, show, export, patch, delete; run-now joins
    area_hits; another user's private watchmap is answered as a missing one (404 no watchmap N)."""
    status, made = world.call("POST", "/watchmaps", {"name": "around 3", "cone": {"ra": 3.0, "dec": -1.0, "radius": 60}})
    assert status == 201 and made["public"] is False and made["depth"] == 16 and made["ranges"] >= 1, made
    ar = made["ar_id"]
    status, exported = world.call("GET", f"/watchmaps/{ar}/export")
    assert status == 200 and exported["moc"].startswith("12/") and " 16/" in exported["moc"]  # coarser cells merged
    status, again = world.call("POST", "/watchmaps", {"name": "copy", "moc": exported["moc"]})
    assert status == 201 and again["ranges"] == made["ranges"]
    for bad, detail in (({"name": "bad", "moc": "3/1 x"}, "token 2 'x'"),
                        ({"name": "fits", "moc": "SIMPLE  =   T"}, "FITS MOCs are not supported yet"),
                        ({"name": "none"}, "give either moc")):
        status, refused = world.call("POST", "/watchmaps", bad)
        assert status == 400 and refused["error"] == "invalid_watchmap" and detail in refused["detail"], refused
    status, listed = world.call("GET", "/watchmaps")
    assert status == 200 and [w["ar_id"] for w in listed["watchmaps"]] == [ar, again["ar_id"]]
    query = {"selected": "objects.diaObjectId, area_hits.ar_id", "tables": f"objects, watchmap:{ar}",
             "conditions": "", "limit": 100}
    status, ran = world.call("POST", "/filters/run", query)
    assert status == 200, ran
    assert [(r["diaObjectId"], r["ar_id"]) for r in ran["rows"]] == [(503, ar)]
    for path in (f"/watchmaps/{ar}", f"/watchmaps/{ar}/export"):
        status, hidden = world.call("GET", path, token="other")
        assert status == 404 and hidden["detail"].startswith(f"no watchmap {ar}:")
    into_objects_table(recent_objects(30))
    status, rerun = world.call("POST", f"/watchmaps/{ar}/rerun")
    assert status == 200 and rerun["hits"] == [{"diaObjectId": 503, "ar_id": ar}] and rerun["truncated"] is False
    assert rerun["queries"] == rerun["ranges"] >= 1 and rerun["gets"] >= 1, rerun
    status, hidden = world.call("POST", f"/watchmaps/{ar}/rerun", token="other")
    assert status == 404 and hidden["detail"].startswith(f"no watchmap {ar}:")
    _private_then_shared(world, "watchmap", ar, query, shared_query={**query, "tables": f"objects, area:{ar}"},
                         shared_count=1)


def _private_then_shared(world: World, kind: str, n: int, query: dict[str, Any], *, shared_query: dict[str, Any],
                         shared_count: int) -> None:
    """Another user's filter naming the owner's private ``kind`` ``n`` is refused as naming a missing one (404,
    saved or run), and they cannot delete it (404); made public, ``shared_query`` runs for them
    (``shared_count`` rows), they still cannot delete it (403); its owner deletes it, and it is gone."""
    status, refused = world.call("POST", "/filters", {**BODY, "name": "theirs", **{k: query[k] for k in
                                                      ("selected", "tables", "conditions")}}, token="other")
    assert status == 404 and refused["detail"].startswith(f"no {kind} {n}:"), refused
    status, refused = world.call("POST", "/filters/run", query, token="other")
    assert status == 404 and refused["detail"].startswith(f"no {kind} {n}:")
    status, _ = world.call("DELETE", f"/{kind}s/{n}", token="other")
    assert status == 404
    status, shared = world.call("PATCH", f"/{kind}s/{n}", {"public": True})
    assert status == 200 and shared["public"] is True and shared["version"] == 2
    status, theirs = world.call("POST", "/filters/run", shared_query, token="other")
    assert status == 200 and theirs["count"] == shared_count
    status, _ = world.call("DELETE", f"/{kind}s/{n}", token="other")
    assert status == 403
    status, gone = world.call("DELETE", f"/{kind}s/{n}")
    assert status == 200 and gone == {"deleted": n}
    status, _ = world.call("GET", f"/{kind}s/{n}")
    assert status == 404
