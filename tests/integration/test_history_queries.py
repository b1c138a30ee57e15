"""Run-now over every object and backtests, through the HTTP API, over a history kept on the local AWS endpoint.

Real parts: the history's Parquet files in moto's S3 (written by the history's own writer adapter), the
API function hosted on a loopback port, DuckDB reading the files as the local engine. What the API answers
is checked against what a test computes by itself: the SQLite engine (the matcher's) over the same rows
for run-now, plain Python over the rows for the backtest's per-night counts.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from filter_corpus.rows import object_row
from test_cli_streams import run as run_cli

from skystream.clients.api import ApiClient, ApiError
from skystream.domain.objects import night_of
from skystream.domain.sky import pixel_of
from skystream.filters.batch import BatchRows
from skystream.filters.compiler import FilterQuery, compile_filter
from skystream.filters.engine import SqliteEngine
from skystream.history.schema import OBJECTS_HISTORY
from skystream.local.testing import EphemeralStack
from skystream.services.history import BACKTEST_WARN_SHARE
from skystream.storage.users import UserStore
from skystream.wiring.history import history_lake

OBJECTS = 20_000
NIGHTS = (61001, 61002, 61003)
BRIGHT = {"selected": "objects.diaObjectId, objects.nDiaSources, objects.r_psfFluxMean", "tables": "objects",
          "conditions": "objects.nDiaSources >= 150 AND objects.r_psfFluxMean > 1000"}
FRESH = {"selected": "objects.diaObjectId", "tables": "objects",
         "conditions": "mjdnow() - objects.lastDiaSourceMjdTai < 0.2 AND objects.nDiaSources > 190"}


def _bright(row: dict[str, Any]) -> bool:
    n, mean = row["nDiaSources"], row["r_psfFluxMean"]
    return n is not None and n >= 150 and mean is not None and mean > 1000


def _history_row(row: dict[str, Any], source_id: int, mjd: float) -> dict[str, Any]:
    return {**row, "lastDiaSourceMjdTai": mjd, "diaSourceId": source_id, "alertMjdTai": mjd,
            "skyPixel": pixel_of(row["ra"], row["decl"])}


def _alerts(seed: int) -> list[dict[str, Any]]:
    """20,000 objects over three nights: every object's newest alert on one of them, and a quarter of the
    objects with an earlier alert too, whose values differ (so "latest state" is tested, not any state)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    source = 7_000_000_000
    for i in range(OBJECTS):
        oid = 5_000_000_000_000 + i * 13
        newest_night = NIGHTS[i % len(NIGHTS)]
        latest = object_row(rng, oid)
        if rng.random() < 0.25 and newest_night != NIGHTS[0]:
            earlier = object_row(rng, oid)
            source += 1
            rows.append(_history_row(earlier, source, newest_night - 1 + rng.uniform(-0.4, 0.4)))
        source += 1
        rows.append(_history_row(latest, source, newest_night + rng.uniform(-0.4, 0.4)))
    return rows


def _write(rows: list[dict[str, Any]]) -> None:
    writer = history_lake()
    by_night: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_night.setdefault(night_of(row["alertMjdTai"]), []).append(row)
    for night, night_rows in by_night.items():
        writer.append(OBJECTS_HISTORY.name, night, night_rows, name=f"seed-{night}")


@pytest.fixture
def history(stack: EphemeralStack) -> list[dict[str, Any]]:
    rows = _alerts(seed=17)
    _write(rows)
    return rows


@pytest.fixture
def api(stack: EphemeralStack) -> Iterator[ApiClient]:
    _user, token = UserStore().add("Ada", "ada@example.org")
    with stack.api() as url:
        yield ApiClient(url, token)


def _latest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    newest: dict[int, dict[str, Any]] = {}
    for row in rows:
        kept = newest.get(row["diaObjectId"])
        if kept is None or (row["alertMjdTai"], row["diaSourceId"]) > (kept["alertMjdTai"], kept["diaSourceId"]):
            newest[row["diaObjectId"]] = row
    return list(newest.values())


def test_run_now_over_all_20000_objects_returns_what_the_sqlite_engine_returns_over_the_same_rows(
    history: list[dict[str, Any]], api: ApiClient
) -> None:
    saved = api.post("/filters", {"name": "bright", **BRIGHT})["filter"]
    pages: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = api.post(f"/filters/{saved['filter_id']}/run?over=all&limit=1000&offset={offset}")
        assert page["over"] == "all" and page["nights"] == len(NIGHTS)
        pages.extend(page["rows"])
        if not page["truncated"]:
            break
        offset += page["count"]
    latest = _latest(history)
    assert len(latest) == OBJECTS
    compiled = compile_filter(FilterQuery(**BRIGHT))
    expected = SqliteEngine(row_cap=OBJECTS).run(BatchRows(objects=latest), [("f", compiled)])["f"].rows
    assert len(expected) > 1000, "the filter should need more than one page"
    assert sorted((r["diaObjectId"], r["nDiaSources"]) for r in pages) == \
        sorted((r["diaObjectId"], r["nDiaSources"]) for r in expected)
    # and not what an earlier alert of the same object would have matched
    assert len({r["diaObjectId"] for r in pages}) == len(pages)


def test_a_three_night_backtest_counts_what_the_test_counts_itself(
    history: list[dict[str, Any]], api: ApiClient, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, stack: EphemeralStack
) -> None:
    bright = api.post("/filters", {"name": "bright", **BRIGHT})["filter"]
    fresh = api.post("/filters", {"name": "fresh", **FRESH})["filter"]
    result = api.post(f"/filters/{bright['filter_id']}/backtest?nights=3&sample=2")
    assert [n["night"] for n in result["nights"]] == sorted(NIGHTS, reverse=True)
    for night in result["nights"]:
        rows = [r for r in history if night_of(r["alertMjdTai"]) == night["night"]]
        matched = [r for r in rows if _bright(r)]
        assert (night["alerts"], night["objects"], night["total"]) == \
            (len(matched), len({r["diaObjectId"] for r in matched}), len(rows))
        assert len(night["sample"]) == 2 and all(_bright(r) for r in night["sample"])
    assert all(n["share"] > BACKTEST_WARN_SHARE for n in result["nights"])
    assert len(result["warnings"]) == 3

    # mjdnow() is each night's end: counted here independently
    result = api.post(f"/filters/{fresh['filter_id']}/backtest?nights=3&sample=0")
    for night in result["nights"]:
        rows = [r for r in history if night_of(r["alertMjdTai"]) == night["night"]]
        matched = [r for r in rows if night["night"] + 0.5 - r["lastDiaSourceMjdTai"] < 0.2
                   and r["nDiaSources"] is not None and r["nDiaSources"] > 190]
        assert night["alerts"] == len(matched) and night["sample"] == []
    assert len(result["warnings"]) == sum(n["share"] > BACKTEST_WARN_SHARE for n in result["nights"])

    # the command line prints the same counts
    monkeypatch.setenv("SKYSTREAM_API_URL", api.base_url)
    monkeypatch.setenv("SKYSTREAM_TOKEN", api.token)
    code, out, _ = run_cli(capsys, "filter", "backtest", bright["filter_id"], "--nights", "3", "--sample", "0", "--json")
    assert code == 0 and json.loads(out)["nights"][0]["alerts"] == \
        api.post(f"/filters/{bright['filter_id']}/backtest?nights=1&sample=0")["nights"][0]["alerts"]


def test_a_filter_joining_a_table_the_history_does_not_keep_is_refused_with_the_reason(
    history: list[dict[str, Any]], api: ApiClient
) -> None:
    body = {"selected": "objects.diaObjectId", "tables": "objects, sherlock_classifications",
            "conditions": "sherlock_classifications.classification = 'SN'", "over": "all"}
    with pytest.raises(ApiError) as refused:
        api.post("/filters/run", body)
    assert refused.value.status == 400 and refused.value.body["error"] == "history_unsupported"
    assert "sherlock_classifications" in refused.value.body["detail"]
