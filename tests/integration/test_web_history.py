"""The web page's history (issue 17) in a real headless Chromium on the local stack.

A small history is written into the local S3 with the history's own lake adapter (as
test_history_queries.py does): synthetic objects rows over three nights, plus the three tables' rows
of a few generated alerts whose objects are also stored (so their page opens). Then, in the page, as a
user: a saved filter is backtested (the numbers shown per night equal the API's answer, one bar per
night is drawn, the nights above the flood limit are flagged), run over every object of the history
page by page (the rows are exactly the objects whose latest row matches, counted here in Python),
refused over the history when it joins a table the history does not keep (the API's words shown), and
an object's whole history is drawn beside its lightcurve (points counted against the API's JSON).

Screenshots go to the test's tmp_path and to build/screenshots-history/ (a copy of one run's is in docs/img/).
"""

from __future__ import annotations

import contextlib
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filter_corpus.rows import object_row
from playwright.sync_api import Browser, Page, expect
from test_filter_streams import seed_objects
from test_web_page import SCREENSHOTS, WAIT_MS, browser, plottable, site  # noqa: F401  (fixtures)

from skystream.clients.api import ApiClient, ApiError
from skystream.devtools.generator import generate_alerts
from skystream.domain.objects import night_of
from skystream.domain.sky import pixel_of
from skystream.features import objects_row
from skystream.history.rows import BatchRows, alert_rows
from skystream.history.schema import OBJECTS_HISTORY
from skystream.local.testing import EphemeralStack
from skystream.storage.users import UserStore
from skystream.wiring.history import history_lake

# Beside test_web_page's screenshots, not among them: that test empties its directory when it starts.
HISTORY_SCREENSHOTS = SCREENSHOTS.parent / "screenshots-history"
NIGHTS = (60998, 60999, 61000)  # the newest nights of the generator's alerts (their objects' earlier alerts go back further)
QUIET = NIGHTS[0]  # no synthetic object matches on this night: it stays under the flood limit
SYNTHETIC = 700
BRIGHT = {"selected": "objects.diaObjectId, objects.nDiaSources", "tables": "objects",
          "conditions": "objects.nDiaSources >= 150"}


def _synthetic(seed: int) -> list[dict[str, Any]]:
    """Objects rows over the three nights, a quarter with an earlier alert on the night before."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    source = 8_000_000_000
    for i in range(SYNTHETIC):
        night = NIGHTS[i % len(NIGHTS)]
        alerts = [night - 1, night] if night != NIGHTS[0] and rng.random() < 0.25 else [night]
        for n in alerts:
            row = object_row(rng, 6_000_000_000_000 + i)
            if n == QUIET:
                row["nDiaSources"] = min(row["nDiaSources"], 149)
            mjd = n + rng.uniform(-0.4, 0.4)
            source += 1
            rows.append({**row, "lastDiaSourceMjdTai": mjd, "diaSourceId": source, "alertMjdTai": mjd,
                         "skyPixel": pixel_of(row["ra"], row["decl"])})
    return rows


def _write_history(alerts: list[dict[str, Any]], synthetic: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write the rows by (table, night), one file each, and return every objects_history row written."""
    batch = BatchRows()
    for alert in alerts:
        batch.add(alert_rows(objects_row(alert), alert))
    for row in synthetic:
        batch.by_file.setdefault((OBJECTS_HISTORY.name, night_of(row["alertMjdTai"])), []).append(row)
    lake = history_lake()
    for (table, night), rows in batch.by_file.items():
        lake.append(table, night, rows, name=f"web-{table}-{night}")
    return [row for (table, _), rows in batch.by_file.items() if table == OBJECTS_HISTORY.name for row in rows]


def _latest_matching(rows: list[dict[str, Any]]) -> set[int]:
    newest: dict[int, dict[str, Any]] = {}
    for row in rows:
        kept = newest.get(row["diaObjectId"])
        if kept is None or (row["alertMjdTai"], row["diaSourceId"]) > (kept["alertMjdTai"], kept["diaSourceId"]):
            newest[row["diaObjectId"]] = row
    return {oid for oid, row in newest.items() if (row["nDiaSources"] or 0) >= 150}


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=tmp_path / f"{name}.png", full_page=False)
    HISTORY_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / f"{name}.png", HISTORY_SCREENSHOTS / f"{name}.png")


@pytest.mark.timeout(120)
@contextlib.contextmanager
def _signed_in(chromium: Browser, url: str, token: str) -> Iterator[Page]:
    """A page of the site at ``url`` signed in with ``token``; on leaving, the page must not have raised."""
    context = chromium.new_context(viewport={"width": 1366, "height": 860})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    try:
        page.goto(f"{url}/web/")
        page.get_by_label("API token").fill(token)
        page.keyboard.press("Enter")
        yield page
    finally:
        context.close()
    assert failures == [], f"the page raised: {failures}"


def test_backtest_run_over_every_object_and_the_whole_history_in_the_page(
    stack: EphemeralStack, site: str, browser: Browser, tmp_path: Path  # noqa: F811
) -> None:
    alerts = generate_alerts(12, seed=5, alerts_per_object=3)  # 4 objects, 3 alerts each
    assert max(night_of(a["diaSource"]["midpointMjdTai"]) for a in alerts) == NIGHTS[-1]
    seed_objects(alerts)
    history_rows = _write_history(alerts, _synthetic(seed=17))
    expected = _latest_matching(history_rows)
    nights = len({night_of(r["alertMjdTai"]) for r in history_rows})
    assert nights > len(NIGHTS)
    assert 100 < len(expected) < 200, "the run over every object should take two pages of 100"
    user, token = UserStore().add("Ada", "ada@example.org")
    client = ApiClient(site, token)
    saved = client.post("/filters", {"name": "bright", **BRIGHT})["filter"]
    _bob, bob_token = UserStore().add("Bob", "bob@example.org")
    public = ApiClient(site, bob_token).post("/filters", {"name": "Bob's bright", "public": True, **BRIGHT})["filter"]

    expect.set_options(timeout=WAIT_MS)
    with _signed_in(browser, site, token) as page:
        expect(page.locator("#who")).to_contain_text(f"Ada (user {user.user_id})")

        # Backtest the saved filter over 3 nights: the page shows the API's numbers, one bar per night.
        page.goto(f"{site}/web/#/filters/{saved['filter_id']}")
        expect(page.get_by_role("heading", name='Edit filter "bright"')).to_be_visible()
        expect(page.get_by_label("nights")).to_have_value("3")
        page.get_by_role("button", name="Backtest").click()
        shown = page.locator("table.backtest tbody tr")
        expect(shown).to_have_count(3)
        answer = client.post(f"/filters/{saved['filter_id']}/backtest?nights=3&sample=5")
        assert [n["night"] for n in answer["nights"]] == sorted(NIGHTS, reverse=True)
        cells = shown.evaluate_all("""rows => rows.map(r => [Number(r.dataset.night),
            ...["alerts", "objects", "total", "share"].map(c => r.querySelector(`[data-col=${c}]`).textContent)])""")
        assert cells == [[n["night"], str(n["alerts"]), str(n["objects"]), str(n["total"]), f"{100 * n['share']:.1f}%"]
                         for n in answer["nights"]]
        quiet = next(n for n in answer["nights"] if n["night"] == QUIET)
        assert quiet["alerts"] == 0 and all(n["alerts"] > 0 for n in answer["nights"] if n["night"] != QUIET)
        bars = page.locator("svg.backtest rect.bar.matched")
        expect(bars).to_have_count(3)
        assert bars.evaluate_all("els => els.map(e => Number(e.dataset.night))") == [n["night"] for n in answer["nights"]]
        widths = dict(zip([n["night"] for n in answer["nights"]],
                          bars.evaluate_all("els => els.map(e => Number(e.getAttribute('width')))"), strict=True))
        assert widths[QUIET] == 0 and all(w > 0 for night, w in widths.items() if night != QUIET)
        # the warnings, highlighted: the API's lines, and the nights above the limit marked in the table and chart
        assert len(answer["warnings"]) == 2
        expect(page.locator("ul.warnings li")).to_have_text(answer["warnings"])
        expect(page.locator("table.backtest tr.over")).to_have_count(2)
        expect(page.locator("svg.backtest rect.bar.matched.over")).to_have_count(2)
        newest = answer["nights"][0]
        sample = page.locator(f"details.sample[data-night='{newest['night']}'] table tbody tr")
        expect(sample).to_have_count(len(newest["sample"]))
        assert {int(t) for t in page.locator(f"details.sample[data-night='{newest['night']}'] tbody td:first-child a")
                .all_inner_texts()} == {r["diaObjectId"] for r in newest["sample"]}
        _shot(page, tmp_path, "backtest")

        # Run over every object in the history: two pages, together exactly the objects whose latest row matches.
        page.get_by_label("every object in the history").check()
        page.get_by_role("button", name="Run now").click()
        outcome = page.locator(".outcome")
        expect(outcome).to_contain_text(f"Over every object the history holds ({nights} night(s)): rows 1 to 100 (more on the next page), in")
        rows = outcome.locator("table tbody tr")
        expect(rows).to_have_count(100)
        first = {int(t) for t in outcome.locator("table tbody td:first-child a").all_inner_texts()}
        page.locator(".history-choices").evaluate("e => e.scrollIntoView({block: 'start'})")  # the choices and the rows
        _shot(page, tmp_path, "run-over-history")
        page.get_by_role("button", name="Next page").click()
        expect(outcome).to_contain_text(f"rows 101 to {len(expected)} (the last page), in")
        expect(rows).to_have_count(len(expected) - 100)
        second = {int(t) for t in outcome.locator("table tbody td:first-child a").all_inner_texts()}
        assert first | second == expected and not first & second
        expect(page.get_by_role("button", name="Next page")).to_have_count(0)
        expect(page.get_by_role("button", name="Previous page")).to_be_visible()

        # A filter the history cannot answer: the API's refusal, in its words, where the page shows errors.
        page.locator("#f-tables").fill("objects, sherlock_classifications")
        page.locator("#f-conditions").fill("sherlock_classifications.classification = 'SN'")
        page.get_by_role("button", name="Run now").click()
        expect(page.locator(".form-error [role=alert]")).to_contain_text("The request was refused: ")
        expect(page.locator(".form-error")).to_contain_text("sherlock_classifications")

        # Another user's public filter goes by its id (POST /filters/{id}/run?over=all, /backtest?nights=): same answers.
        page.goto(f"{site}/web/#/filters/{public['filter_id']}")
        expect(page.get_by_role("heading", name='Filter "Bob\'s bright"')).to_be_visible()
        page.get_by_role("button", name="Backtest").click()
        expect(shown).to_have_count(3)
        assert shown.evaluate_all("""rows => rows.map(r => [Number(r.dataset.night),
            ...["alerts", "objects", "total", "share"].map(c => r.querySelector(`[data-col=${c}]`).textContent)])""") == cells
        page.get_by_label("every object in the history").check()
        page.get_by_role("button", name="Run now").click()
        expect(outcome).to_contain_text("rows 1 to 100 (more on the next page)")
        page.get_by_role("button", name="Next page").click()
        expect(rows).to_have_count(len(expected) - 100)

        # An object's whole history beside its lightcurve.
        counts: dict[int, int] = {}
        forced: dict[int, int] = {}
        for a in alerts:
            oid = a["diaObject"]["diaObjectId"]
            counts[oid] = counts.get(oid, 0) + 1
            forced[oid] = forced.get(oid, 0) + len(alert_rows(objects_row(a), a).forced)
        oid = max(forced, key=lambda k: forced[k])  # an object with forced photometry in the history too
        assert counts[oid] == 3 and forced[oid] > 0
        page.goto(f"{site}/web/#/objects/{oid}")
        expect(page.get_by_role("heading", name=f"Object {oid}")).to_be_visible()
        expect(page.locator("svg.plot")).to_have_count(1)
        page.get_by_label("Show the whole history").check()
        whole = page.locator("[data-lightcurve=hlc] svg.plot")
        hist = client.get(f"/objects/{oid}?history=true")["history"]
        assert (len(hist["detections"]), len(hist["forced_photometry"])) == (counts[oid], forced[oid])
        expect(whole.locator(".pt.det")).to_have_count(plottable(hist["detections"], magnitude=False))
        expect(whole.locator(".pt.forced")).to_have_count(plottable(hist["forced_photometry"], magnitude=False))
        assert (whole.locator(".pt.det").count(), whole.locator(".pt.forced").count()) == (counts[oid], forced[oid])
        expect(page.locator("[data-lightcurve=hlc]")).to_contain_text(
            f"{counts[oid]} detection(s) and {forced[oid]} forced measurement(s)")
        expect(page.locator("[data-lightcurve=lc] svg.plot")).to_be_visible()  # the lite one stays beside it
        _shot(page, tmp_path, "object-history")
        page.get_by_label("Show the whole history").uncheck()
        expect(page.locator("svg.plot")).to_have_count(1)


def test_the_backtest_chart_scales_bars_to_the_busiest_night_and_flags_only_nights_above_the_limit(
    site: str, browser: Browser  # noqa: F811
) -> None:
    """backtest.js's own functions, run in the browser: a night with no alerts, one exactly at the limit, one above."""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{site}/web/")
        out = page.evaluate("""async () => {
            const bt = await import("./backtest.js");
            const nights = [{night: 3, alerts: 30, objects: 20, total: 200, share: 0.15, sample: []},
                            {night: 2, alerts: 1, objects: 1, total: 100, share: 0.01, sample: []},
                            {night: 1, alerts: 0, objects: 0, total: 0, share: 0, sample: []}];
            const svg = bt.backtestChart(nights, 0.01, {width: 860});
            const bars = [...svg.querySelectorAll("rect.bar.matched")];
            const totals = [...svg.querySelectorAll("rect.bar.total")];
            return {
              percents: [bt.percent(0.303), bt.percent(0.01), bt.percent(0)],
              matched: bars.map((b) => [Number(b.dataset.night), Number(b.getAttribute("width")), b.classList.contains("over")]),
              totals: totals.map((b) => Number(b.getAttribute("width"))),
              values: [...svg.querySelectorAll("text.value")].map((t) => t.textContent),
            };
        }""")
    finally:
        context.close()
    assert out["percents"] == ["30.3%", "1.0%", "0.0%"]
    plot_width = 860 - 110 - 230  # the chart's width less its margins (labels left, values right)
    assert out["totals"] == [plot_width, plot_width / 2, 1]  # scaled to the busiest night; an empty night keeps a sliver
    assert out["matched"] == [[3, plot_width * 30 / 200, True], [2, plot_width / 200, False], [1, 0, False]]
    assert out["values"] == ["30 of 200 (15.0%)", "1 of 100 (1.0%)", "0 of 0 (0.0%)"]


def test_an_error_of_the_history_is_shown_in_the_place_of_the_whole_history(
    stack: EphemeralStack, site: str, browser: Browser, tmp_path: Path  # noqa: F811
) -> None:
    """A detections file the engine cannot read: the object's page shows the API's answer in words, and keeps its lightcurve."""
    alerts = generate_alerts(1, seed=5)
    seed_objects(alerts)
    _write_history(alerts, [])
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not a parquet file")
    night = night_of(alerts[0]["diaSource"]["midpointMjdTai"])
    history_lake().upload("detections", night, "broken", str(broken))
    _user, token = UserStore().add("Ada", "ada@example.org")
    oid = alerts[0]["diaObject"]["diaObjectId"]
    with pytest.raises(ApiError) as refused:
        ApiClient(site, token).get(f"/objects/{oid}?history=true")
    # a file DuckDB cannot read is the engine's failure (503), named by its key in the bucket, not a local path
    assert refused.value.status == 503 and refused.value.body["error"] == "history_query_failed"
    assert f"history/detections/night={night}/broken.parquet" in refused.value.body["detail"]
    assert "skystream-history-" not in refused.value.body["detail"]
    with _signed_in(browser, site, token) as page:
        page.goto(f"{site}/web/#/objects/{oid}")
        toggle = page.get_by_label("Show the whole history")
        toggle.check()
        error = page.locator(".history-slot [role=alert]")
        expect(error).to_contain_text(refused.value.body["detail"].splitlines()[0], timeout=WAIT_MS)
        expect(toggle).not_to_be_checked()
        expect(page.locator("[data-lightcurve=lc] svg.plot")).to_be_visible()
