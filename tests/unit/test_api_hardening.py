"""The API under hostile or unlucky requests: every one answers 4xx with a reason (issue 13, "API").

Through the powertools resolver with the HTTP API's event shape; DynamoDB is moto in-process,
Kafka topics, recent objects and the producer are fakes (the ``world`` fixture of test_api).
Each test failed on main 737fbe3: 500s, 422 before 401, partial uploads, accepted clashes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import RecordingPublisher
from test_api import BODY, World, world  # noqa: F401  (world is a fixture)

from skystream.api import auth
from skystream.api.app import app
from skystream.aws import client
from skystream.cli import main as cli
from skystream.domain.annotations import AnnotationRecord
from skystream.local.handlers import LocalLambdaContext
from skystream.local.http_api import http_api_event
from skystream.services.annotations import AnnotationService
from skystream.storage.annotations import AnnotationStore
from skystream.storage.annotators import AnnotatorRegistry
from skystream.storage.users import UserStore
from skystream.wiring import api as wiring

DEEP = "[" * 100_000 + "]" * 100_000


def raw_call(method: str, path: str, body: bytes | str, token: str | None = None,
             source: str = "127.0.0.1") -> tuple[int, dict[str, str], Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Token {token}"
    raw = body.encode() if isinstance(body, str) else body
    response = app.resolve(http_api_event(method, path, headers, raw, source), LocalLambdaContext("api"))
    parsed = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], response.get("headers") or {}, parsed


@pytest.fixture
def annotator(world: World, monkeypatch: pytest.MonkeyPatch) -> RecordingPublisher:  # noqa: F811
    """Ada (user 1) owns annotator ``myclassifier``; uploads are stored in moto, announced to a list."""
    AnnotatorRegistry().add("myclassifier", 1)
    published = RecordingPublisher()
    monkeypatch.setattr(wiring, "annotation_service",
                        lambda: AnnotationService(AnnotationStore(), AnnotatorRegistry(), published))
    return published


# -- bodies that Python's json cannot read -----------------------------------------------------

@pytest.mark.parametrize("path", ["/filters", "/filters/run", "/annotations"])
@pytest.mark.parametrize("with_token", [True, False])
def test_json_nested_100000_deep_is_a_400_with_or_without_a_token(world: World, path: str,  # noqa: F811
                                                                   with_token: bool) -> None:
    status, _, body = raw_call("POST", path, DEEP, world.token if with_token else None)
    assert status == 400 and body["error"] == "bad_request"
    assert "more than 64 levels deep" in body["detail"] and "line 1, column 65" in body["detail"]
    status, _, body = raw_call("POST", path, "[" * 1000 + "]" * 1000, world.token if with_token else None)
    assert status == 400 and "levels deep" in body["detail"]


def test_integers_of_5000_digits_are_a_400_naming_where(world: World, annotator: RecordingPublisher) -> None:  # noqa: F811
    huge = "9" * 5000
    status, _, body = raw_call("POST", "/filters", json.dumps(BODY)[:-1] + f', "byte_quota": {huge}}}', world.token)
    assert status == 400 and "a number of 5000 characters" in body["detail"] and "column" in body["detail"]
    upload = f'{{"annotator": "myclassifier", "diaObjectId": {huge}, "classification": "SN"}}'
    status, _, body = raw_call("POST", "/annotations", upload, world.token)
    assert status == 400 and "a number of 5000 characters" in body["detail"]
    assert annotator.events == []


def test_a_limit_of_5000_digits_is_refused_by_the_checker_with_where(world: World) -> None:  # noqa: F811
    conditions = "objects.nDiaSources > 1 LIMIT " + "9" * 5000
    status, body = world.call("POST", "/filters", {**BODY, "conditions": conditions})
    assert status == 400 and body["error"] == "invalid_filter"
    assert "LIMIT 999999999999... (5000 digits) is too large" in body["detail"]
    assert "col 31 of conditions" in body["detail"] and body["position"] == 30
    status, body = world.call("POST", "/filters/run", {"selected": "objects.diaObjectId", "tables": "objects",
                                                       "conditions": "objects.ra > 0 LIMIT 1000000001"})
    assert status == 400 and "the most is 1,000,000,000" in body["detail"]


# -- ids and all-or-nothing uploads ------------------------------------------------------------

def test_an_annotation_id_beyond_int64_is_a_400(world: World, annotator: RecordingPublisher) -> None:  # noqa: F811
    status, body = world.call("POST", "/annotations",
                              {"annotator": "myclassifier", "diaObjectId": 10**40, "classification": "SN"})
    assert status == 400 and "diaObjectId: Input should be less than or equal to 9223372036854775807" in body["detail"]
    status, body = world.call("POST", "/annotations",
                              {"annotator": "myclassifier", "diaObjectId": 2**63 - 1, "classification": "SN"})
    assert status == 201 and body["annotations"][0]["diaObjectId"] == 2**63 - 1


def test_a_context_row_id_beyond_int64_is_a_400(world: World) -> None:  # noqa: F811
    _, admin = UserStore().add("Root", "root@example.org", is_admin=True)
    rows = [{"diaObjectId": 5, "tns_name": "2026a"}, {"diaObjectId": 2**64, "tns_name": "2026b"}]
    status, body = world.call("POST", "/context/crossmatch_tns", rows, token=admin)
    assert status == 400 and "row 2: diaObjectId 18446744073709551616 is outside 1 to 9223372036854775807" in body["detail"]
    status, body = world.call("POST", "/context/crossmatch_tns", [{"diaObjectId": 10**40, "tns_name": "x"}], token=admin)
    assert status == 400 and "signed 64 bits" in body["detail"]


def _stored_items() -> list[dict[str, Any]]:
    from skystream.config import settings

    return client("dynamodb").scan(TableName=settings().annotations_table)["Items"]


def test_a_30_item_upload_with_a_bad_last_id_stores_nothing(world: World, annotator: RecordingPublisher) -> None:  # noqa: F811
    items = [{"annotator": "myclassifier", "diaObjectId": 1000 + i, "classification": "SN"} for i in range(29)]
    items.append({"annotator": "myclassifier", "diaObjectId": 10**40, "classification": "SN"})
    status, body = world.call("POST", "/annotations", items)
    assert status == 400 and "annotation 29: diaObjectId" in body["detail"]
    assert _stored_items() == [] and annotator.events == []


def test_the_store_writes_an_upload_in_one_transaction_or_not_at_all(world: World) -> None:  # noqa: F811
    store = AnnotationStore()
    records = [AnnotationRecord(annotator="myclassifier", dia_object_id=1000 + i, classification="SN")
               for i in range(29)]
    # A value the serialiser refuses, last: on main the first 25 items were already written by then.
    with pytest.raises(Exception, match=r"Rounded|Inexact"):
        store.put_many([*records, AnnotationRecord(annotator="myclassifier", dia_object_id=10**40,
                                                   classification="SN")])
    assert _stored_items() == []
    # An item DynamoDB itself refuses (over its 400 KB item limit), last: the whole transaction is refused.
    too_big = AnnotationRecord(annotator="myclassifier", dia_object_id=7, classification="SN",
                               classdict={"blob": "x" * 450_000})
    with pytest.raises(Exception, match=r"(?i)size"):
        store.put_many([*records, too_big])
    assert _stored_items() == []
    store.put_many(records)
    assert len(_stored_items()) == 58  # history and latest of each


def test_an_upload_over_one_transaction_is_a_400_and_stores_nothing(world: World,  # noqa: F811
                                                                     annotator: RecordingPublisher) -> None:
    item = {"annotator": "myclassifier", "diaObjectId": 5, "classification": "SN"}
    status, body = world.call("POST", "/annotations", [item] * 51)
    assert status == 400 and "send at most 50 at a time" in body["detail"]
    fat = {**item, "classdict": {"text": "x" * 60_000}}
    status, body = world.call("POST", "/annotations", [{**fat, "diaObjectId": i + 1} for i in range(40)])
    assert status == 400 and "nothing was stored" in body["detail"] and "send fewer at a time" in body["detail"]
    assert _stored_items() == [] and annotator.events == []


# -- authentication first, throttled, revocable -------------------------------------------------

def test_authentication_comes_before_body_validation(world: World) -> None:  # noqa: F811
    bad = {"name": "", "output": "fax", "extra": 1}
    assert world.call("POST", "/filters", bad, token=None)[0] == 401
    assert world.call("POST", "/filters", bad, token="wrong")[0] == 401
    assert world.call("PATCH", "/filters/abc", {"version": "x"}, token=None)[0] == 401
    assert world.call("POST", "/filters/abc/run?limit=99999", token=None)[0] == 401
    assert world.call("GET", "/objects/notanumber", token=None)[0] == 401
    status, body = world.call("POST", "/filters", bad)
    assert status == 422 and body["error"] == "invalid_request"  # with a valid token, validation speaks
    assert world.call("GET", "/no/such/route", token=None)[0] == 404  # no route: nothing to authenticate for


def test_schema_is_public_in_behaviour_and_in_the_document(world: World) -> None:  # noqa: F811
    status, body = world.call("GET", "/schema", token=None)
    assert status == 200 and {"objects", "annotations"} <= {t["name"] for t in body["tables"]}
    _, doc = world.call("GET", "/openapi.json", token=None)
    assert doc["paths"]["/schema"]["get"]["security"] == []
    assert doc["security"] == [{"token": []}]  # every other route still needs the token
    assert "security" not in doc["paths"]["/filters"]["get"]
    assert world.call("GET", "/me", token=None)[0] == 401


def test_wrong_tokens_are_throttled_per_source_across_containers(world: World) -> None:  # noqa: F811
    statuses = [raw_call("GET", "/me", b"", f"guess{i}", source="203.0.113.9")[0] for i in range(auth.MAX_FAILURES)]
    assert statuses == [401] * auth.MAX_FAILURES
    # The count is in DynamoDB, not in this process: a fresh store (another container's) sees it.
    with pytest.raises(auth.TooManyRequests):
        auth.authenticate({"authorization": "Token guess-elsewhere"}, "203.0.113.9", store=UserStore())
    status, headers, body = raw_call("GET", "/me", b"", "guess-next", source="203.0.113.9")
    assert status == 429 and body["error"] == "too_many_requests" and 1 <= body["retry_after"] <= 60
    assert headers["Retry-After"] == str(body["retry_after"]) and "203.0.113.9" in body["detail"]
    # While throttled, a right token from there is refused too (else a 200 would reveal the right guess) ...
    assert raw_call("GET", "/me", b"", world.token, source="203.0.113.9")[0] == 429
    # ... but another address is not affected, and no token at all guesses nothing.
    assert raw_call("GET", "/me", b"", world.token, source="198.51.100.7")[0] == 200
    assert raw_call("GET", "/me", b"", "", source="198.51.100.7")[0] == 401
    _, _, doc = raw_call("GET", "/openapi.json", b"")
    assert "Retry-After" in doc["paths"]["/me"]["get"]["responses"]["429"]["headers"]


def test_the_throttle_lifts_when_its_window_ends(world: World) -> None:  # noqa: F811
    store = UserStore()
    start = 1_800_000_000.0  # a window boundary (a multiple of 60)
    for i in range(auth.MAX_FAILURES):
        with pytest.raises(auth.Unauthorized):
            auth.authenticate({"authorization": f"Token no{i}"}, "192.0.2.1", store=store, now=start + i)
    with pytest.raises(auth.TooManyRequests) as throttled:
        auth.authenticate({"authorization": f"Token {world.token}"}, "192.0.2.1", store=store, now=start + 50)
    assert throttled.value.retry_after == 10
    user = auth.authenticate({"authorization": f"Token {world.token}"}, "192.0.2.1", store=store, now=start + 61)
    assert user.name == "Ada"
    item = client("dynamodb").get_item(TableName=store.table, Key={"pk": {"S": f"authfail#192.0.2.1#{int(start)}"}})
    assert int(item["Item"]["expires_at"]["N"]) == int(start) + 120  # the table's TTL removes it


def test_users_revoke_token_revokes_every_token_or_one(world: World, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    store = UserStore()
    second = store.new_token(1)
    third = store.new_token(1)
    assert cli(["users", "revoke-token", "1", "--token", second]) == 0
    assert "revoked 1 token of user 1" in capsys.readouterr().out
    assert store.by_token(second) is None and store.by_token(third) is not None
    assert cli(["users", "revoke-token", "1", "--token", world.other_token]) == 1  # Bob's, not Ada's
    assert "holds no such token" in capsys.readouterr().err
    assert cli(["users", "revoke-token", "1"]) == 0
    assert "revoked 2 token(s) of user 1" in capsys.readouterr().out
    status, body = world.call("GET", "/me")
    assert status == 401 and "not valid" in body["detail"]
    assert world.call("GET", "/me", token="other")[0] == 200  # Bob keeps his
    assert cli(["users", "revoke-token", "99"]) == 1


# -- names and topics ------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "where", "what"), [
    ("bad\x00name", "character 4", "U+0000"),
    ("gpj\u202eexe.jpg", "character 4", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("zero\u200bwidth", "character 5", "U+200B ZERO WIDTH SPACE"),
])
def test_names_with_control_or_bidi_characters_are_refused_with_where(world: World, annotator: RecordingPublisher,  # noqa: F811
                                                                      name: str, where: str, what: str) -> None:
    status, body = world.call("POST", "/filters", {**BODY, "name": name})
    assert status == 422 and body["problems"][0]["where"] == "body.name"
    assert where in body["detail"] and what in body["detail"]
    status, saved = world.call("POST", "/filters", {**BODY, "name": "fine name", "output": "none"})
    assert status == 201
    fid = saved["filter"]["filter_id"]
    status, body = world.call("PATCH", f"/filters/{fid}", {"version": 1, "name": name})
    assert status == 422 and where in body["detail"]
    status, body = world.call("POST", "/annotations", {"annotator": name, "diaObjectId": 5, "classification": "SN"})
    assert status == 400 and "annotator: the name holds" in body["detail"] and where in body["detail"]
    assert world.call("POST", "/filters", {**BODY, "name": "Übergang 超新星 (β)", "output": "none"})[0] == 201


def test_topics_whose_dot_and_underscore_forms_collide_clash_naming_the_other_filter(world: World) -> None:  # noqa: F811
    status, first = world.call("POST", "/filters", {**BODY, "name": "Has.abs"})
    assert status == 201 and first["topic"] == "lasair_1Has.abs"
    status, body = world.call("POST", "/filters", {**BODY, "name": "Has_abs"})
    assert status == 409 and body["error"] == "topic_clash"
    assert body["other_filter"] == first["filter"]["filter_id"] and body["other_topic"] == "lasair_1Has.abs"
    assert "'Has.abs'" in body["detail"] and "'.' and '_' collide" in body["detail"]
    # Renaming a filter between the two forms of its own topic is no clash.
    status, renamed = world.call("PATCH", f"/filters/{first['filter']['filter_id']}", {"version": 1, "name": "Has_abs"})
    assert status == 200 and renamed["topic"] == "lasair_1Has_abs"
    assert world.call("POST", "/filters", {**BODY, "name": "Has.abs"})[0] == 409
    # User 11's "x" and user 1's "1x" are both lasair_11x: refused without naming the other user's filter.
    assert world.call("POST", "/filters", {**BODY, "name": "1x"})[0] == 201
    store = UserStore()
    while True:
        user, token = store.add("someone", "someone@example.org")
        if user.user_id == 11:
            break
    status, body = world.call("POST", "/filters", {**BODY, "name": "x"}, token=token)
    assert status == 409 and body["topic"] == "lasair_11x" and "other_filter" not in body
    assert "another filter" in body["detail"] and "1x" not in body["detail"].replace("lasair_11x", "")
