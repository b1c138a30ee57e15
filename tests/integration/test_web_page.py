"""The web page as an astronomer meets it: a real headless Chromium on the local stack.

Debian's ``chromium`` (``make test`` installs it when missing) is driven through playwright's
Python API, pointed at that executable; the API is the filter_api handler on a loopback port with
tansu and moto behind it, as ``skystream up`` serves it. One walk through the page, by keyboard
where a user would type: sign in, write a filter with a mistake and see the checker's message
under the field at the place it points to, complete a column name, fix it, run it, save it, see
the reseeded records in its stream, copy another user's public filter as SQL and delete the copy,
open an object and see its lightcurve, whose plotted points are counted against the API's JSON of
the object, with its annotation and context row. Which objects match is computed here from the
generated alerts, not by the SQL engine.

Screenshots of each page go to build/screenshots/ (a copy of one run's is in docs/img/).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_filter_streams import seed_objects

from skystream.clients.api import ApiClient
from skystream.devtools.generator import generate_alerts
from skystream.domain.annotations import AnnotationRecord
from skystream.local.testing import EphemeralStack
from skystream.storage.annotations import AnnotationStore
from skystream.storage.context import ContextStore
from skystream.storage.users import UserStore

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# What works in a container on a loaded 2-core machine: no sandbox (root, no user namespaces), no GPU,
# nothing that phones home. Playwright adds --headless and a fresh, temporary --user-data-dir.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
WAIT_MS = 20_000  # for a condition on a loaded machine; the walk takes a few seconds when idle


def matches(alert: dict[str, Any]) -> bool:
    """``objects.nDiaSources >= 5 AND objects.decl < 0``, on the alert itself."""
    return alert["diaObject"]["nDiaSources"] >= 5 and alert["diaObject"]["dec"] < 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: `make test` installs it "
                    "(apt-get install -y chromium, as root), or set CHROMIUM=/path/to/chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, timeout=60_000)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def site(stack: EphemeralStack) -> Iterator[str]:
    with stack.api() as url:
        yield url


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")


def plottable(points: list[dict[str, Any]], *, magnitude: bool) -> int:
    """Points with a time and a flux (and, for magnitudes, a positive flux): what the page can draw."""
    return sum(1 for p in points if p["midpointMjdTai"] is not None and p["psfFlux"] is not None
               and (not magnitude or p["psfFlux"] > 0))


@pytest.mark.timeout(180)
def test_sign_in_write_run_save_watch_and_look_at_an_object(stack: EphemeralStack, site: str, browser: Browser) -> None:
    alerts = generate_alerts(40, seed=21)
    seed_objects(alerts)
    expected = {a["diaObject"]["diaObjectId"] for a in alerts if matches(a)}
    assert 10 < len(expected) < len(alerts)
    user, token = UserStore().add("Ada", "ada@example.org")
    _bob, bob_token = UserStore().add("Bob", "bob@example.org")
    shared = ApiClient(site, bob_token).post("/filters", {
        "name": "Bob's nearby", "description": "many detections", "public": True, "output": "none",
        "selected": "objects.diaObjectId, objects.nDiaSources", "tables": "objects",
        "conditions": "objects.nDiaSources > 50"})["filter"]
    ContextStore().put_rows("crossmatch_tns", [{"diaObjectId": i, "tns_name": f"2026ab{n:02d}", "type": "SN Ia"}
                                                for n, i in enumerate(sorted(expected))])
    AnnotationStore().put_many([AnnotationRecord(annotator="fastfinder", dia_object_id=i, classification="SN",
                                                 explanation="fast riser") for i in expected])
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)

    context = browser.new_context(viewport={"width": 1366, "height": 860})
    context.set_default_timeout(WAIT_MS)  # actions and waits
    expect.set_options(timeout=WAIT_MS)  # assertions (playwright's default is 5 s)
    page = context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    try:
        # Sign in: the page asks for a token and keeps it for this tab only.
        page.goto(f"{site}/web/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        shot(page, "sign-in")
        page.get_by_label("API token").fill("not-a-token")
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("That token was not accepted")
        page.get_by_label("API token").fill(token)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Filters", exact=True)).to_be_visible()
        expect(page.locator("#who")).to_contain_text(f"Ada (user {user.user_id})")
        assert page.evaluate("sessionStorage.getItem('skystream.token')") == token
        assert page.evaluate("localStorage.length") == 0

        # A filter with a mistake: the checker's message sits under WHERE, pointing at the column.
        page.get_by_role("link", name="New filter").first.click()
        expect(page.get_by_role("heading", name="New filter")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("bright south")
        where = page.locator("#f-conditions")
        mistake = "objects.nDiaSources >= 5 AND objects.decmean < 0"
        where.fill(mistake)
        where.press("Control+Enter")  # run now
        message = page.locator("#f-conditions-error")
        expect(message.get_by_role("alert")).to_contain_text(
            "unknown column objects.decmean at line 1, col 30 of conditions (did you mean objects.decl?)")
        at = mistake.index("objects.decmean")
        expect(message.locator("pre.pointer")).to_have_text(f"{mistake}\n{' ' * at}{'^' * len('objects.decmean')}")
        expect(where).to_have_attribute("aria-invalid", "true")
        assert where.evaluate("e => [e.selectionStart, e.selectionEnd, document.activeElement === e]") == [
            at, at + len("objects.decmean"), True]
        expect(page.locator(".outcome table")).to_have_count(0)
        shot(page, "editor-error")

        # Fix it, completing the column's name from the schema with the keyboard.
        where.fill("")
        where.press_sequentially("objects.nDiaSources >= 5 AND objects.de")
        suggestions = page.locator("#f-conditions ~ ul.completions")
        expect(suggestions.get_by_role("option", name="objects.decl ", exact=False).first).to_be_visible()
        for _ in range(10):  # down the list to objects.decl
            if suggestions.locator("[aria-selected=true] .label").inner_text() == "objects.decl":
                break
            where.press("ArrowDown")
        where.press("Tab")
        where.press_sequentially(" < 0")
        expect(where).to_have_value("objects.nDiaSources >= 5 AND objects.decl < 0")
        expect(message).to_be_empty()
        page.get_by_label("Output").select_option("kafka_lite")
        page.get_by_label("on every new alert").check()
        where.press("Control+Enter")
        results = page.locator(".outcome table tbody tr")
        expect(results).to_have_count(len(expected))
        expect(page.locator(".outcome")).to_contain_text(f"{len(expected)} match(es) among the 40 most recent objects")
        assert {int(t) for t in page.locator(".outcome table tbody tr td:first-child a").all_inner_texts()} == expected

        # Save: the topic and the reseeded count, then the stream holds those records.
        where.press("Control+s")
        topic = f"lasair_{user.user_id}brightsouth"
        expect(page.locator("#saved-topic")).to_have_text(topic)
        expect(page.locator("#saved-reseeded")).to_have_text("10 record(s) put in the topic from recent objects")
        expect(page.get_by_role("heading", name='Edit filter "bright south"')).to_be_visible()
        shot(page, "editor-saved")

        # Someone else saves it meanwhile (here: the same user through the API): saving is refused, nothing is lost.
        fid = page.evaluate("location.hash").split("/")[-1]
        ApiClient(site, token).patch(f"/filters/{fid}", {"version": 1, "description": "edited elsewhere"})
        where.press("Control+s")
        expect(page.locator(".form-error")).to_contain_text(f"filter {fid} is at version 2, not 1")
        page.get_by_role("button", name="Reload the filter").click()
        expect(page.get_by_label("Description")).to_have_value("edited elsewhere")
        page.get_by_role("link", name="Watch its stream").click()
        records = page.locator("tr.record")
        expect(records).to_have_count(10)
        expect(page.locator(".status")).to_contain_text(f"10 record(s) of topic {topic}, newest first")
        assert [int(o) for o in records.evaluate_all("rows => rows.map(r => r.dataset.offset)")] == list(range(9, -1, -1))
        shown = [int(t) for t in page.locator("tr.record td:nth-child(3) a").all_inner_texts()]
        assert len(set(shown)) == 10 and set(shown) <= expected
        shot(page, "stream")

        # The filters list: hers with its topic and stream, and Bob's public one, which she copies (as SQL) and deletes.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Filters").click()
        row = page.locator("tr[data-filter]", has_text="bright south")
        expect(row).to_contain_text(topic)
        expect(row.get_by_role("link", name="Stream")).to_be_visible()
        theirs = page.locator(f"tr[data-filter='{shared['filter_id']}']")
        expect(theirs).to_contain_text("Bob's nearby")
        shot(page, "filters")
        theirs.get_by_role("link", name="Copy").click()
        expect(page.get_by_role("heading", name='Copy of "Bob\'s nearby"')).to_be_visible()
        expect(page.get_by_label("Name", exact=True)).to_have_value("Copy of Bob's nearby")
        page.get_by_label("one SQL statement").check()
        sql = page.locator("#f-sql")
        expect(sql).to_have_value("SELECT objects.diaObjectId, objects.nDiaSources\nFROM objects\nWHERE objects.nDiaSources > 50")
        sql.press("Control+s")
        expect(page.locator(".outcome")).to_contain_text('Saved version 1 of "Copy of Bob\'s nearby"')
        page.get_by_label("three parts (as on Lasair)").check()  # the saved filter, as its three parts
        expect(page.locator("#f-conditions")).to_have_value("objects.nDiaSources > 50")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Delete").click()
        expect(page.get_by_role("status")).to_contain_text('Deleted filter "Copy of Bob\'s nearby"')
        expect(page.locator("tr[data-filter]")).to_have_count(2)  # hers and Bob's

        # An object: its lightcurve, point for point what the API holds, its annotation and context.
        page.go_back()
        page.go_back()
        page.go_back()
        expect(records).to_have_count(10)
        object_id = shown[0]
        page.get_by_role("link", name=str(object_id)).click()
        expect(page.get_by_role("heading", name=f"Object {object_id}")).to_be_visible()
        lite = ApiClient(site, token).get(f"/objects/{object_id}")["lite"]
        points = lite["diaSourcesList"] + lite["diaForcedSourcesList"]
        in_flux = plottable(points, magnitude=False)
        assert in_flux > 20
        plot = page.locator("svg.plot")
        expect(plot.locator(".pt")).to_have_count(in_flux)
        expect(plot.locator(".pt.det")).to_have_count(plottable(lite["diaSourcesList"], magnitude=False))
        expect(plot.locator(".pt.forced")).to_have_count(plottable(lite["diaForcedSourcesList"], magnitude=False))
        expect(plot).to_have_attribute("data-mode", "flux")
        bands = {p["band"] for p in points}
        assert set(plot.locator(".pt").evaluate_all("els => els.map(e => e.dataset.band)")) == bands
        shot(page, "object")
        page.get_by_label("magnitude (AB)").check()
        expect(plot.locator(".pt")).to_have_count(plottable(points, magnitude=True))
        expect(page.locator("svg.plot")).to_have_attribute("data-mode", "mag")
        expect(page.locator("section", has=page.get_by_role("heading", name="Annotations"))).to_contain_text("fast riser")
        tns = f"2026ab{sorted(expected).index(object_id):02d}"
        expect(page.locator(".context", has=page.get_by_role("heading", name="crossmatch_tns"))).to_contain_text(tns)
        features = page.locator("#feature-search ~ div table")
        expect(features).to_contain_text("nDiaSources")
        page.get_by_label("Find a feature").fill("jump")
        expect(features.locator("tbody tr")).to_have_count(2)  # jump1, jump2

        # A token revoked meanwhile: the next request brings the sign-in back, saying why.
        UserStore().revoke_tokens(user.user_id)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Filters").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("this API token is not valid")
        assert page.evaluate("sessionStorage.getItem('skystream.token')") is None
    finally:
        context.close()
    assert failures == [], f"the page raised: {failures}"


def test_the_pages_own_parts_keep_ids_exact_and_point_at_the_right_place(site: str, browser: Browser) -> None:
    """The page's pure functions, run in the browser as the page runs them."""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{site}/web/")
        out = page.evaluate("""async () => {
            const api = await import("./api.js");
            const filters = await import("./filters.js");
            const plot = await import("./plot.js");
            const complete = await import("./complete.js");
            const parsed = api.parseJSON('{"id": 169298438141575216, "small": 3000010000001, "neg": -9007199254740993, '
              + '"f": 12345678901234567.5, "x": 1.25e-7, "s": "169298438141575216 in a string", "l": [9007199254740993]}');
            const tables = [{name: "objects", columns: [{name: "decl", type: "DOUBLE", description: ""},
                                                       {name: "decErr", type: "DOUBLE", description: ""}]},
                            {name: "annotations", columns: [{name: "classification", type: "TEXT", description: ""}]}];
            return {
              parsed,
              point: filters.pointAt("objects.ra > 1\\nAND objects.gmag < 19", 19),
              mag: plot.magnitude(1000, 10),
              noMag: plot.magnitude(-5, 1),
              shown: plot.plottable([{mjd: 1, flux: 10, fluxErr: 1}, {mjd: 2, flux: -3, fluxErr: 1},
                                     {mjd: null, flux: 4, fluxErr: 1}], "mag"),
              ticks: plot.ticks(60850.2, 60998.8),
              columns: complete.candidates(tables, "objects.de", "sql").map((c) => c.insert),
              annotator: complete.candidates(tables, "ff.cl", "sql", ["ff"]).map((c) => c.insert),
              tableNames: complete.candidates(tables, "ob", "tables").map((c) => c.insert),
            };
        }""")
    finally:
        context.close()
    assert out["parsed"] == {"id": "169298438141575216", "small": 3000010000001, "neg": "-9007199254740993",
                             "f": 12345678901234567.5, "x": 1.25e-7, "s": "169298438141575216 in a string",
                             "l": ["9007199254740993"]}
    assert out["point"] == {"line": "AND objects.gmag < 19", "column": 4, "lineNumber": 2, "length": 12}
    assert out["mag"]["mag"] == pytest.approx(31.4 - 7.5) and out["mag"]["magErr"] == pytest.approx(0.010857, rel=1e-3)
    assert out["noMag"] == {"mag": None, "magErr": None}
    assert len(out["shown"]["shown"]) == 1 and out["shown"]["nonPositive"] == 1 and out["shown"]["missing"] == 1
    assert out["ticks"] == [60875, 60900, 60925, 60950, 60975]  # round steps inside the range
    assert out["columns"] == ["objects.decl", "objects.decErr"]
    assert out["annotator"] == ["ff.classification"] and out["tableNames"] == ["objects"]
