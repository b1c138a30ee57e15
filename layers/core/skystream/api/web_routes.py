"""The web page: static files shipped in the package (``skystream/web/``), served at ``/web/``.

The page is plain HTML, CSS and JavaScript modules: no build step, nothing fetched from
elsewhere. It calls this same API (``/filters``, ``/schema``, ``/objects/...``) with the
user's token, which it keeps in the browser's session storage only; the files themselves are
public (no token needed, like ``/openapi.json``) and hold no data.

Only the files present in ``skystream/web/`` are served (the name must be one of them: no paths,
no directory listing). Every answer carries a Content-Security-Policy that lets the page run
only its own scripts and talk only to its own origin, so a filter name or a record written by
another user can never run as code even if a view forgot to treat it as text.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.resources import files

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from skystream.domain.errors import NotFound

router = Router()

WEB_PATH = "/web/"
"""Where the page is served; ``/`` and ``/web`` redirect there."""

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time (cheap: the ETag answers 304), so a deployment's new page is seen at once.
    "Cache-Control": "no-cache",
}


@lru_cache(maxsize=1)
def assets() -> dict[str, tuple[str, str, str]]:
    """File name -> (text, content type, ETag) of every servable file, read once per process."""
    found: dict[str, tuple[str, str, str]] = {}
    for entry in files("skystream").joinpath("web").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in CONTENT_TYPES:
            text = entry.read_text(encoding="utf-8")
            etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'
            found[entry.name] = (text, CONTENT_TYPES[suffix], etag)
    return found


def _redirect() -> Response:
    # Relative, so it holds behind any API Gateway stage or custom domain path.
    return Response(status_code=302, headers={"Location": "web/"}, body="")


def _file(name: str) -> Response:
    found = assets().get(name)
    if found is None:
        raise NotFound(f"the web page has no file {name!r}; open {WEB_PATH}")
    text, content_type, etag = found
    headers = {**SECURITY_HEADERS, "ETag": etag}
    if (router.current_event.headers or {}).get("if-none-match") == etag:
        return Response(status_code=304, headers=headers, body="")
    return Response(status_code=200, content_type=content_type, body=text, headers=headers)


@router.get("/", include_in_schema=False)
def root():  # unannotated: powertools would try to model a raw Response
    return _redirect()


@router.get("/web", include_in_schema=False)
def web_bare():
    return _redirect()


@router.get("/web/", include_in_schema=False)
def web_index():
    return _file("index.html")


@router.get("/web/<name>", include_in_schema=False)
def web_file(name: str):
    return _file(name)
