"""The web page's files: served by the API without a token, self-contained, shipped in the package and the layer.

What the page does in a browser is tests/integration/test_web_page.py; here, what the API answers
for its files, that nothing is fetched from elsewhere (no CDN, no build step: every import and
every referenced file is one of the served files), and that the files travel with the package
into a wheel and into the Lambda layer (from which filter_api serves them on AWS).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from skystream.api.app import PUBLIC_ROUTES, app
from skystream.api.web_routes import CONTENT_TYPES, assets
from skystream.local.handlers import LocalLambdaContext
from skystream.local.http_api import http_api_event

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "layers" / "core" / "skystream" / "web"
sys.path.insert(0, str(ROOT / "layers" / "core"))
import build_layer  # noqa: E402  (layers/core/build_layer.py: what the Lambda layer carries)

FILES = sorted(p.name for p in WEB.iterdir() if p.is_file())
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def get(path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return app.resolve(http_api_event("GET", path, headers or {}, b"", "127.0.0.1"), LocalLambdaContext("api"))


def test_the_page_and_each_file_is_served_without_a_token_with_its_type_and_policy() -> None:
    assert {"index.html", "app.js", "api.js", "filters.js", "stream.js", "object.js", "plot.js", "style.css"} <= set(FILES)
    page = get("/web/")
    assert page["statusCode"] == 200 and page["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert page["body"] == (WEB / "index.html").read_text()
    for name in FILES:
        response = get(f"/web/{name}", {"authorization": "Token not-a-valid-one"})  # public: no token is checked
        assert response["statusCode"] == 200, name
        assert response["headers"]["Content-Type"] == CONTENT_TYPES[Path(name).suffix]
        csp = response["headers"]["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert response["headers"]["X-Content-Type-Options"] == "nosniff"
        assert response["body"] == (WEB / name).read_text()
    assert {("GET", "/web/"), ("GET", "/web/<name>")} <= PUBLIC_ROUTES


def test_the_bare_addresses_lead_to_the_page_and_other_names_are_not_found() -> None:
    for path in ("/", "/web"):
        response = get(path)
        assert response["statusCode"] == 302 and response["headers"]["Location"] == "web/"
    missing = get("/web/secrets.json")
    assert missing["statusCode"] == 404 and json.loads(missing["body"])["error"] == "not_found"
    assert get("/web/..%2Fapi%2Fapp.py")["statusCode"] == 404
    assert get("/filters")["statusCode"] == 401  # the API's routes still need a token


def test_an_unchanged_file_is_answered_with_304() -> None:
    etag = get("/web/app.js")["headers"]["ETag"]
    again = get("/web/app.js", {"if-none-match": etag})
    assert again["statusCode"] == 304 and again["body"] == ""
    assert get("/web/app.js", {"if-none-match": '"stale"'})["statusCode"] == 200


def test_nothing_is_fetched_from_elsewhere() -> None:
    """No CDN, no build step: every script, stylesheet and module import names one of the served files."""
    html = (WEB / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="([^"#:]+)"', html)) - {"../openapi.json"}
    for js in WEB.glob("*.js"):
        referenced |= set(re.findall(r'^import .* from "\./([^"]+)";$', js.read_text(), re.MULTILINE))
    assert referenced and referenced <= set(assets()), referenced - set(assets())
    for path in WEB.iterdir():
        urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"')]*", path.read_text()))
        assert urls <= {SVG_NAMESPACE, "//www.w3.org/2000/svg"}, (path.name, urls)
    assert "innerHTML" not in "".join(p.read_text() for p in WEB.glob("*.js"))  # text stays text


def test_the_lambda_layer_carries_the_page() -> None:
    carried = {str(p) for p in build_layer.runtime_files()}
    assert {f"web/{name}" for name in FILES} <= carried


def test_the_package_data_lists_every_file_of_the_page() -> None:
    """The page is no Python package, so only pyproject's package-data puts it in a wheel or an install.

    Checked against the patterns as setuptools applies them (globs relative to the package's directory);
    building a wheel here would need setuptools >= 77 from the network."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = ROOT / "layers" / "core" / "skystream"
    matched = {path.relative_to(package).as_posix() for key in ("*", "skystream")
               for pattern in package_data.get(key, []) for path in package.glob(pattern) if path.is_file()}
    assert {f"web/{name}" for name in FILES} <= matched


def test_the_readme_says_where_to_open_the_page_and_links_a_screenshot_of_each() -> None:
    readme = (ROOT / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:30])
    assert "http://127.0.0.1:8000/web/" in first_screen
    for page in ("sign-in", "filters", "editor-error", "editor-saved", "stream", "object"):
        assert f"(docs/img/web-{page}.png)" in readme
        assert (ROOT / "docs" / "img" / f"web-{page}.png").stat().st_size > 5_000
