"""One error hierarchy, mapped once by type (issue 14).

Every user-facing error is a ``SkystreamError`` with its status and code; ``api/app.py`` turns
any of them into ``{"error": code, "detail": ..., **extra}`` by type, never by the message. A
filter refused anywhere (the checker inside the filter core, the filter service, a stored
filter a newer checker refuses at run-now) is one type, ``FilterRejected``, and reaches the
user as 400 ``invalid_filter`` with its ``position``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_api import BODY, World, world  # noqa: F401

from skystream.api.app import app
from skystream.domain import errors
from skystream.domain.errors import SkystreamError
from skystream.domain.filters import FilterSpec
from skystream.filters.check import FilterRejected
from skystream.local.handlers import LocalLambdaContext
from skystream.local.http_api import http_api_event
from skystream.services.context import ContextFileError, parse_rows
from skystream.services.filters import checked_spec
from skystream.storage.annotators import AnnotatorError, check_name
from skystream.storage.context import UnknownContextTable, check_table
from skystream.wiring import api as wiring

pytestmark = pytest.mark.unit

EXPECTED: dict[type[SkystreamError], tuple[int, str]] = {
    errors.BadRequest: (400, "bad_request"),
    errors.FilterRejected: (400, "invalid_filter"),
    errors.RunTimedOut: (400, "run_timed_out"),
    errors.HistoryUnsupported: (400, "history_unsupported"),
    errors.HistoryQueryFailed: (503, "history_query_failed"),
    errors.AnnotatorError: (400, "bad_request"),
    errors.AnnotatorTaken: (409, "conflict"),
    errors.UnknownAnnotator: (404, "not_found"),
    errors.ContextFileError: (400, "bad_request"),
    errors.AnnotationBatchTooLarge: (400, "bad_request"),
    errors.UnknownContextTable: (404, "not_found"),
    errors.WatchlistError: (400, "invalid_watchlist"),
    errors.UnknownWatchlist: (404, "not_found"),
    errors.WatchmapError: (400, "invalid_watchmap"),
    errors.UnknownWatchmap: (404, "not_found"),
    errors.Unauthorized: (401, "unauthorized"),
    errors.StreamAccessRefused: (401, "stream_access_refused"),
    errors.Forbidden: (403, "forbidden"),
    errors.LimitExceeded: (403, "limit_exceeded"),
    errors.NotFound: (404, "not_found"),
    errors.Conflict: (409, "conflict"),
    errors.TopicClash: (409, "topic_clash"),
    errors.StaleVersion: (409, "stale_version"),
    errors.TooManyRequests: (429, "too_many_requests"),
    errors.RateLimited: (429, "rate_limited"),
    errors.HourlyLimitExceeded: (429, "api_limit_exceeded"),
    errors.NotBuilt: (501, "not_implemented"),
    errors.Unavailable: (503, "unavailable"),
}


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_all_subclasses(c) for c in found)) if found else found


def _instance(cls: type[SkystreamError]) -> SkystreamError:
    if issubclass(cls, errors.HourlyLimitExceeded):
        return cls("slow down", retry_after=7, limit=10, reset_at=1_800_000_000, tier="anonymous", setting="X")
    if issubclass(cls, errors.TooManyRequests):
        return cls("slow down", retry_after=7)
    if issubclass(cls, errors.FilterRejected):
        return cls("unknown column objects.rra at line 1, col 8", 7)
    return cls(f"what went wrong ({cls.__name__}) and how to fix it", setting="X")


def test_every_error_type_has_a_decided_status_and_code() -> None:
    """A new error type must be added here: its status is a decision, not an accident of inheritance."""
    assert _all_subclasses(SkystreamError) == set(EXPECTED)
    assert {cls: (cls.status, cls.code) for cls in EXPECTED} == EXPECTED


def test_the_user_errors_of_the_stores_are_in_the_hierarchy_where_they_are_raised() -> None:
    """The names the stores and services export are the domain's types, not look-alikes."""
    assert AnnotatorError is errors.AnnotatorError and UnknownContextTable is errors.UnknownContextTable
    assert ContextFileError is errors.ContextFileError and FilterRejected is errors.FilterRejected
    with pytest.raises(errors.AnnotatorError) as bad_name:
        check_name("1abc")
    with pytest.raises(errors.UnknownContextTable) as no_table:
        check_table("objects")
    with pytest.raises(errors.ContextFileError) as bad_rows:
        parse_rows("crossmatch_tns", [{"diaObjectId": 1, "tns": "x"}])
    assert (bad_name.value.status, no_table.value.status, bad_rows.value.status) == (400, 404, 400)


class Raising:
    """The filter service as the routes see it, raising the error the test chose."""

    def __init__(self, exc: SkystreamError) -> None:
        self.exc = exc

    def listing(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        raise self.exc


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda cls: cls.__name__)
def test_the_api_maps_each_error_type_to_its_status_and_body(
        world: World, monkeypatch: pytest.MonkeyPatch, cls: type[SkystreamError]) -> None:  # noqa: F811
    exc = _instance(cls)
    monkeypatch.setattr(wiring, "filter_service", lambda: Raising(exc))
    response = app.resolve(http_api_event("GET", "/filters", {"authorization": f"Token {world.token}"}, b"",
                                          "127.0.0.1"), LocalLambdaContext("api"))
    status, body = response["statusCode"], json.loads(response["body"])
    assert (status, body["error"]) == EXPECTED[cls]
    assert body == json.loads(json.dumps(exc.body()))  # detail and every extra field, as raised
    if issubclass(cls, errors.TooManyRequests):
        assert response["headers"]["Retry-After"] == "7"
    if cls is errors.HourlyLimitExceeded:
        assert (response["headers"]["X-RateLimit-Limit"], response["headers"]["X-RateLimit-Reset"]) == (
            "10", "1800000000")
    if cls is errors.FilterRejected:
        assert body["position"] == 7


def test_the_filter_core_refusal_passes_through_the_service_unchanged() -> None:
    """The service no longer translates: what the checker raised is what the API maps."""
    spec = FilterSpec(name="x", selected="objects.diaObjectId", tables="objects", conditions="objects.rra > 1")
    with pytest.raises(FilterRejected) as info:
        checked_spec(spec)
    assert info.value.__traceback__ is not None
    raised_in = info.traceback[-1].path.name
    assert raised_in in {"check.py", "parts.py", "compiler.py"}  # raised by the filter core itself
    assert info.value.position == 0 and "rra" in info.value.detail


def test_a_stored_filter_the_checker_now_refuses_answers_run_now_with_400_and_its_position(
        world: World) -> None:  # noqa: F811
    status, saved = world.call("POST", "/filters", {**BODY, "output": "none"})
    assert status == 201, saved
    fid = saved["filter"]["filter_id"]
    from skystream.aws import client
    from skystream.config import settings

    # As if saved before a checker change: the stored conditions are refused by today's checker.
    client("dynamodb").update_item(TableName=settings().filters_table, Key={"filter_id": {"S": fid}},
                                   UpdateExpression="SET conditions = :c",
                                   ExpressionAttributeValues={":c": {"S": "objects.nDiaSources >= 3 AND objects.rra"}})
    status, body = world.call("POST", f"/filters/{fid}/run")
    assert status == 400 and body["error"] == "invalid_filter", body
    assert "rra" in body["detail"] and body["position"] == 29  # col 30 of conditions, 0-based
