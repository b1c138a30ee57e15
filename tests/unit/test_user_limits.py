"""Per-user limits (settings with documented defaults) and the run-now bound, as the API answers them.

Issue 13: 60 ``kafka_full`` filters with 10 GB quotas each were accepted in 1.4 s, and a
run-now of an expensive filter took 43 s (the API Lambda's timeout is 29 s).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fakes import RecordingTopics
from test_api import BODY, World, filter_service, recent_objects, world  # noqa: F401 (the fixture)

from skystream.config import settings
from skystream.wiring import api as wiring

pytestmark = pytest.mark.unit


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set limit variables with ``limits.setenv`` (the settings are re-read)."""
    settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    settings.cache_clear()


def kafka(name: str, **kw: object) -> dict:
    return {**BODY, "name": name, **kw}


def test_the_defaults_are_documented_numbers() -> None:
    settings.cache_clear()
    config = settings()
    assert (config.max_active_filters_per_user, config.max_daily_bytes_per_user, config.run_now_per_minute) == (
        20, 20 * 100 * 1024 * 1024, 10)
    assert (config.filter_time_limit_s, config.run_now_deadline_s, config.suspend_after_failures) == (2.0, 10.0, 5)


def test_the_issue_case_sixty_kafka_full_filters_of_10_gb_is_refused_at_the_first(world: World) -> None:  # noqa: F811
    status, body = world.call("POST", "/filters", kafka("big0", output="kafka_full", byte_quota=10 * 1024**3))
    assert status == 403 and body["error"] == "limit_exceeded"
    assert body["setting"] == "MAX_DAILY_BYTES_PER_USER" and body["limit"] == 20 * 100 * 1024 * 1024
    assert "MAX_DAILY_BYTES_PER_USER" in body["detail"] and "Lower byte_quota (at most 2097152000 here)" in body["detail"]
    statuses = [world.call("POST", "/filters", kafka(f"f{i}", output="kafka_lite"))[0] for i in range(21)]
    assert statuses == [201] * 20 + [403]  # the default quota fits 20 times: then the count limit says no


def test_too_many_active_filters_is_refused_naming_the_limit_and_how_to_get_under_it(
        world: World, limits: pytest.MonkeyPatch) -> None:  # noqa: F811
    limits.setenv("MAX_ACTIVE_FILTERS_PER_USER", "2")
    assert world.call("POST", "/filters", kafka("one"))[0] == 201
    status, two = world.call("POST", "/filters", kafka("two"))
    assert status == 201
    status, body = world.call("POST", "/filters", kafka("three"))
    assert status == 403 and body["error"] == "limit_exceeded"
    assert body["setting"] == "MAX_ACTIVE_FILTERS_PER_USER" and body["limit"] == 2
    assert "you would have 3 active filters; the limit is 2" in body["detail"]
    assert "on_alert and on_annotation false" in body["detail"]
    # inactive filters do not count; another user has their own allowance
    assert world.call("POST", "/filters", kafka("three", on_alert=False))[0] == 201
    assert world.call("POST", "/filters", kafka("theirs"), token="other")[0] == 201
    # an operator lowering the limit never blocks an edit that does not add to the count
    limits.setenv("MAX_ACTIVE_FILTERS_PER_USER", "1")
    settings.cache_clear()
    fid = two["filter"]["filter_id"]
    assert world.call("PATCH", f"/filters/{fid}", {"version": 1, "description": "still active"})[0] == 200


def test_raising_a_quota_past_the_daily_bytes_limit_is_refused(world: World, limits: pytest.MonkeyPatch) -> None:  # noqa: F811
    limits.setenv("MAX_DAILY_BYTES_PER_USER", "1000")
    assert world.call("POST", "/filters", kafka("small", byte_quota=600))[0] == 201
    status, body = world.call("POST", "/filters", kafka("second", byte_quota=600))
    assert status == 403 and body["setting"] == "MAX_DAILY_BYTES_PER_USER"
    assert "would add up to 1200 bytes; the limit is 1000" in body["detail"] and "at most 400 here" in body["detail"]
    assert world.call("POST", "/filters", kafka("second", byte_quota=400))[0] == 201
    assert world.call("POST", "/filters", kafka("mail", output="email", byte_quota=10**9))[0] == 201  # not Kafka


def test_run_now_is_rate_limited_per_user(world: World, limits: pytest.MonkeyPatch) -> None:  # noqa: F811
    limits.setenv("RUN_NOW_PER_MINUTE", "3")
    query = {"selected": "objects.diaObjectId", "tables": "objects", "limit": 1}
    answers = [world.call("POST", "/filters/run", query) for _ in range(4)]
    if {a[0] for a in answers} == {200}:  # the minute turned over during the calls: once more
        answers = [world.call("POST", "/filters/run", query) for _ in range(4)]
    status, body = answers[-1]
    assert [a[0] for a in answers[:3]] == [200, 200, 200] and status == 429
    assert body["error"] == "rate_limited" and body["setting"] == "RUN_NOW_PER_MINUTE" and body["limit"] == 3
    assert 0 <= body["retry_after_s"] <= 60 and "try again in" in body["detail"]
    assert world.call("POST", "/filters/run", query, token="other")[0] == 200  # per user


def test_an_expensive_run_now_answers_a_clear_timeout_in_bounded_time(world: World,  # noqa: F811
                                                                    limits: pytest.MonkeyPatch) -> None:
    limits.setenv("FILTER_TIME_LIMIT_S", "0.3")
    limits.setattr(wiring, "filter_service", lambda: filter_service(RecordingTopics(), recent_objects(1000)))
    # about a second over 1,000 objects: the most LIKE work per row the checker allows, five times
    like = "CONCAT(objects.ra, '" + "a" * 990 + "') LIKE '%" + "a" * 197 + "b%'"
    query = {"selected": "objects.diaObjectId", "tables": "objects", "conditions": " OR ".join([like] * 5)}
    start = time.monotonic()
    status, body = world.call("POST", "/filters/run", query)
    took = time.monotonic() - start
    assert status == 400 and body["error"] == "run_timed_out", body
    assert took < 2 * 0.3 + 0.5
    assert body["time_limit_s"] == 0.3 and body["objects_scanned"] == 1000 and 0.3 <= body["elapsed_s"] < 0.6
    assert "over the time limit of 0.3 s" in body["detail"] and "would time out there too" in body["detail"]
