"""The API's powertools resolver: routers listed in :data:`ROUTERS`, errors mapped once, /openapi.json.

Every error a user can meet leaves here as ``{"error": <code>, "detail": <what and how to fix>}``:
domain errors (``skystream.domain.errors``, the filter checker's ``FilterRejected`` among them) by
their type's status and code, a body of the wrong shape as 422 naming where. Never by the message.

Each request passes, in this order: the body's shape limits (``api.body``: nesting and number
length, 400, before anything parses it), authentication (``api.auth``: 401, or 429 for a
throttled source), then powertools' validation of parameters and body (422), then the route.
Powertools would validate first, so its validation middlewares are placed here explicitly,
after ours, instead of being switched on in the resolver.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    OpenAPIResponseValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

from skystream import wiring
from skystream.api import (
    annotation_routes,
    body,
    filter_routes,
    history_routes,
    lasair_params,
    lasair_routes,
    object_routes,
    record_routes,
    stream_routes,
    watchlist_routes,
    watchmap_routes,
    web_routes,
)
from skystream.api.auth import authenticate
from skystream.api.models import ValidationErrorBody
from skystream.domain.errors import SkystreamError

TITLE = "skystream filter API"
VERSION = "1"

ROUTERS: list[Router] = [history_routes.router, filter_routes.router, record_routes.router, stream_routes.router, object_routes.router,
                         annotation_routes.router, lasair_routes.router, watchlist_routes.router,
                         watchmap_routes.router, web_routes.router]
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/health"), ("GET", "/openapi.json"),
    ("GET", "/schema"),  # the filter language, the same for everyone (as /openapi.json): no token needed
    # Lasair's password -> key exchange, which comes before any key (it answers 501: not built)
    ("GET", lasair_routes.AUTH_TOKEN), ("POST", lasair_routes.AUTH_TOKEN),
    # The web page's files (api.web_routes): public, hold no data; the page sends the token to the routes above.
    ("GET", "/"), ("GET", "/web"), ("GET", "/web/"), ("GET", "/web/<name>"),
})
"""(method, path) of the routes that need no token; every other route needs one (a path that is no route: 404)."""


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(payload, default=str), headers=headers)


def _bounded_body(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """Refuse a JSON body nested too deep or with an over-long number (400) before anything parses it.

    CSV (context loads) and form-encoded bodies (the Lasair API's) are not JSON: their parsers do
    not recurse, and a JSON text inside a form value (``classdict``) is checked when it is read
    (``api.lasair_params``).
    """
    event = app.current_event
    content_type = (event.headers or {}).get("content-type", "").lower()
    text = event.decoded_body
    if text and "csv" not in content_type and lasair_params.FORM not in content_type:
        body.check_json_text(text)
    return next_middleware(app)


def _authenticated(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """Find the caller (401/429) before the parameters and body are validated (422).

    A path that is no route goes on to its 404 without a key: powertools routes it through
    the middlewares as a route of its own, which is not one of the resolver's registered routes.
    """
    route = app.context["_route"]
    registered = any(route is known for known in (*app._static_routes, *app._dynamic_routes))
    if registered and (route.method.upper(), route.path) not in PUBLIC_ROUTES:
        event = app.current_event
        # Lasair's API also takes the key as ?token= (its GET examples do); the rest of the API does not
        query_token = (event.query_string_parameters or {}).get("token") if lasair_routes.is_lasair_path(
            route.path) else None
        app.append_context(user=authenticate(event.headers, event.request_context.http.source_ip,
                                             store=wiring.users(), query_token=query_token))
    return next_middleware(app)


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def request_metrics(response: dict[str, Any]) -> dict[str, int]:
    """One request's counts under their metric names (docs/deploy.md, "Metrics"): every request, and
    whether the caller (4xx) or the service (5xx) was at fault."""
    status = int(response.get("statusCode", 200))
    return {"Requests": 1, "ClientErrors": int(400 <= status < 500), "ServerErrors": int(status >= 500)}


def build_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(json_body_deserializer=body.loads)
    app.use([_bounded_body, _authenticated, OpenAPIRequestValidationMiddleware(),
             OpenAPIResponseValidationMiddleware()])
    for router in ROUTERS:
        app.include_router(router)
    app.configure_openapi(
        title=TITLE,
        version=VERSION,
        description="Lasair-compatible SQL filters over Rubin alerts; matches go to Kafka topics or a daily email. "
        "Authenticate with the header 'Authorization: Token <key>'.",
        security_schemes={"token": APIKey(name="Authorization", in_=APIKeyIn.header,
                                          description="'Token <key>'; `skystream users add` prints a key"),
                          "queryToken": APIKey(name="token", in_=APIKeyIn.query,
                                               description="The Lasair API (/api/...) also takes the key as ?token=")},
        security=[{"token": []}],
    )

    @app.exception_handler(SkystreamError)
    def _domain(exc: SkystreamError) -> Response:
        path = app.current_event.path if app.current_event else ""
        status = lasair_routes.lasair_status(exc.status) if lasair_routes.is_lasair_path(path) else exc.status
        return _json(status, exc.body(), exc.headers() or None)

    @app.exception_handler(RecursionError)
    def _too_deep(exc: RecursionError) -> Response:
        # A last guard: api.body refuses deep bodies before they are parsed, so this is not expected.
        return _json(400, {"error": "bad_request", "detail": "the request is nested too deeply to read; flatten it"})

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        problems = [{"where": _where(e.get("loc", ())), "problem": e.get("msg") or e.get("type")}
                    for e in exc.errors()]
        summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:5])
        return _json(422, {"error": "invalid_request", "detail": summary or "the request is malformed",
                           "problems": problems})

    @app.exception_handler(UnicodeDecodeError)
    def _not_text(exc: UnicodeDecodeError) -> Response:
        # Raised only while powertools decodes the body for validation: the bytes are not UTF-8.
        return _json(400, {"error": "bad_request",
                           "detail": f"the request body is not UTF-8 text (byte {exc.start}); send JSON"})

    @app.exception_handler(NotFoundError)
    def _no_route(exc: NotFoundError) -> Response:
        path = app.current_event.path if app.current_event else ""
        return _json(404, {"error": "no_such_route",
                           "detail": f"no route {path}; see /openapi.json for the routes this API has"})

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/openapi.json", include_in_schema=False)
    def openapi():  # unannotated: powertools would try to model a raw Response
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON,
                        body=json.dumps(openapi_document(app)))

    return app


def openapi_document(app: APIGatewayHttpResolver) -> dict[str, Any]:
    """The OpenAPI document, with every 422 described as what :func:`build_app` really answers.

    Powertools documents its own 422 body for routes that do not describe one; ours is
    ``{"error", "detail", "problems"}`` everywhere, so the document says so for every route.
    Public routes are marked as needing no token, and every route that authenticates documents 429.
    The Lasair routes (``/api/...``) read their parameters themselves, from the query string, a form
    or JSON (``api.lasair_params``), so their parameters and bodies are described here from their models.
    """
    doc = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
    schema = ValidationErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components["ValidationErrorBody"] = schema
    ref = {"$ref": "#/components/schemas/ValidationErrorBody"}
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            if path in lasair_routes.PARAMETERS:
                _describe_lasair(operation, method, lasair_routes.PARAMETERS[path], components)
            if (method.upper(), path) in PUBLIC_ROUTES:
                operation["security"] = []  # no token needed (overrides the document's global security)
            responses = operation.get("responses", {})
            if "401" in responses:  # whoever may answer 401 may answer 429 to a source sending wrong tokens
                responses["429"] = {
                    "description": "Too many wrong tokens from your address: wait the seconds the Retry-After "
                                   "header (and retry_after) says",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                }
            described = responses.get("422", {}).get("description")
            responses["422"] = {
                "description": described if described and described != "Validation Error"
                else "The body or a parameter has the wrong shape; 'problems' says where",
                "content": {"application/json": {"schema": ref}},
            }
    return doc


def _describe_lasair(operation: dict[str, Any], method: str, model: type[lasair_params.LasairParams],
                     components: dict[str, Any]) -> None:
    """A Lasair route's parameters: in the query string (GET), or a form or JSON body (POST), and the key."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    required = set(schema.get("required", []))
    token = {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "Your key, as Lasair takes it in a URL (or send 'Authorization: Token <key>')"}
    if method == "get":
        operation["parameters"] = [
            {"name": name, "in": "query", "required": name in required, "schema": field,
             "description": field.get("description", "")}
            for name, field in schema.get("properties", {}).items()
        ] + [token]
    else:
        operation["parameters"] = [token]
        operation["requestBody"] = {"required": bool(required), "content": {
            "application/x-www-form-urlencoded": {"schema": ref}, "application/json": {"schema": ref}}}
    operation["security"] = [{"token": []}, {"queryToken": []}]


app = build_app()
