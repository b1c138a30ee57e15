"""/api/...: Lasair's REST API, so the ``lasair`` client and the tools built on it work unchanged.

Lasair's paths (with their trailing slash), parameters and answers (docs/api.md, "The Lasair API",
has the table of every endpoint and what differs). Each route takes GET or POST, its parameters
from the query string, a form or a JSON body (``api.lasair_params``), and the key as
``Authorization: Token <key>`` or ``?token=<key>`` (``api.auth``).

Every call spends one unit of the caller's hourly quota (``services.api_quota``) before it runs,
and every answer carries the quota's headers. Errors keep skystream's JSON body but take the
statuses the ``lasair`` client understands (:func:`lasair_status`): 401 and 429 as they are, a 5xx
as it is, any other refusal 400, so the client shows the reason ("Bad Request:" and the body)
instead of "HTTP return code 404".
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from skystream.api import body as request_body
from skystream.api.auth import require_user
from skystream.api.lasair_params import (
    AnnotateListParams,
    AnnotateParams,
    ConeParams,
    LasairParams,
    ObjectParams,
    QueryParams,
    SherlockObjectParams,
    SherlockPositionParams,
    ignored,
    json_object,
    parsed,
    request_params,
)
from skystream.api.models import ErrorBody
from skystream.domain.errors import BadRequest, NotBuilt
from skystream.domain.filters import FilterSpec
from skystream.services.api_quota import QUERY_ROW_CAPS
from skystream.services.filters import RUN_SCAN
from skystream.wiring import api as services

PREFIX = "/api/"
router = Router()

PARAMETERS: dict[str, type[LasairParams]] = {}
"""Each route's parameter model by path: ``api.app.openapi_document`` describes them from it."""

QUERY_SCOPE = (f"recent-objects; the {RUN_SCAN} objects with the newest detections, not the whole objects table "
               "(skystream keeps the history elsewhere: docs/api.md)")


def is_lasair_path(path: str) -> bool:
    return path.startswith(PREFIX)


def lasair_status(status: int) -> int:
    """The status a Lasair API error is answered with: what the ``lasair`` client maps (400, 401, 429, 5xx)."""
    return status if status in (401, 429) or status >= 500 else 400


def _errors() -> dict[int, dict[str, Any]]:
    body = {"application/json": {"model": ErrorBody}}
    return {
        400: {"description": "The request cannot be done as asked: a parameter is missing or wrong, the filter is "
                             "refused, no such object, not your annotator (every refusal but 401 and 429; "
                             "'error' keeps skystream's code, 'detail' says what and how to fix)", "content": body},
        401: {"description": "No valid key: 'Authorization: Token <key>' or ?token=<key>", "content": body},
        429: {"description": "Over your tier's calls this hour (X-RateLimit-* and Retry-After say when it resets), "
                             "or over 10 wrong keys a minute from your address", "content": body},
    }


def _quota(app: Any, next_middleware: NextMiddleware) -> Response:
    """Spend one call of the caller's hourly quota (429 past it), then answer with the quota's headers."""
    allowance = services.api_quota().spend(require_user(app))
    response = next_middleware(app)
    response.headers.update(allowance.headers())
    skipped = app.context.get("ignored_parameters")
    if skipped:
        response.headers["X-Skystream-Ignored-Parameters"] = ",".join(skipped)
    if app.context.get("query_scope"):
        response.headers["X-Skystream-Query-Scope"] = app.context["query_scope"]
    return response


def _lasair(path: str, model: type[LasairParams], summary: str, description: str = "") -> Any:
    """Register a Lasair route: GET and POST, the quota, its parameter model for the OpenAPI document."""
    PARAMETERS[path] = model
    return router.route(path, method=["GET", "POST"], middlewares=[_quota], tags=["lasair"], summary=summary,
                        description=description or summary, responses={200: {"description": "OK"}, **_errors()})


def _params(model: type[LasairParams]) -> Any:
    event = router.current_event
    params = request_params(event.query_string_parameters, (event.headers or {}).get("content-type", ""),
                            event.decoded_body)
    router.append_context(ignored_parameters=ignored(model, params))
    return parsed(model, params)


@_lasair("/api/cone/", ConeParams, "Cone search: the stored objects within a radius (arcsec, at most 1000)",
         "requestType nearest: {\"nearest\": {\"object\", \"separation\"}} or {}; all: {\"objects\": [{\"object\", "
         "\"separation\"}...], \"count\", \"nearest\"}; count: {\"count\"}. Separations in arcsec, nearest first; "
         "every stored object with a position is searched, each at its latest alert's position.")
def cone() -> dict[str, Any]:
    p: ConeParams = _params(ConeParams)
    matches = services.cone_search().search(p.ra, p.dec, p.radius).matches
    found = [{"object": m.dia_object_id, "separation": m.separation_arcsec} for m in matches]
    if p.requestType == "count":
        return {"count": len(found)}
    if p.requestType == "nearest":
        return {"nearest": found[0]} if found else {}
    return {"objects": found, "count": len(found), "nearest": found[0] if found else {}}


@_lasair("/api/query/", QueryParams, "Run a filter's three parts now and answer the rows (a list)",
         f"Checked as a saved filter is, run as POST /filters/run runs it: over the {RUN_SCAN} most recent objects "
         "(header X-Skystream-Query-Scope), not Lasair's whole database. limit is capped at 1,000 rows for the "
         "anonymous tier, 10,000 for users, 1,000,000 for power users; offset skips rows. It counts as a run-now "
         "(RUN_NOW_PER_MINUTE).")
def query() -> list[dict[str, Any]]:
    p: QueryParams = _params(QueryParams)
    user = require_user(router)
    limit = min(p.limit, QUERY_ROW_CAPS[user.api_tier])
    spec = FilterSpec(name="lasair-query", selected=p.selected, tables=p.tables, conditions=p.conditions or None,
                      output="none")
    outcome = services.filter_service().run(user, spec, limit=p.offset + limit)
    router.append_context(query_scope=QUERY_SCOPE)
    return outcome.rows[p.offset:p.offset + limit]


@_lasair("/api/object/", ObjectParams, "One object in Lasair's shape",
         "lasair_added (default true): diaObjectId, diaObject, lasairData (features, sherlock, TNS, annotations, "
         "imageUrls), diaSourcesList, diaForcedSourcesList; false: the lists alone (and diaObject when lite is "
         "false). lite: the lite lightcurve; otherwise the latest alert's full detections.")
def object_page() -> dict[str, Any]:
    p: ObjectParams = _params(ObjectParams)
    return services.object_reads().lasair_page(p.objectId, lite=p.lite, lasair_added=p.lasair_added)


@_lasair("/api/sherlock/object/", SherlockObjectParams, "The object's Sherlock classification (stored row)",
         "{\"classifications\": {objectId: [classification, description]}, \"crossmatches\": [row]} from the "
         "sherlock_classifications row loaded for the object; skystream runs no Sherlock service.")
def sherlock_object() -> dict[str, Any]:
    p: SherlockObjectParams = _params(SherlockObjectParams)
    return services.sherlock().for_object(p.objectId, lite=p.lite)


@_lasair("/api/sherlock/position/", SherlockPositionParams,
         "The Sherlock classifications of the stored objects near a position",
         "Objects within radius (default 2 arcsec) of ra, dec that have a sherlock_classifications row, nearest "
         "first; Lasair runs Sherlock on the position itself against its catalogues instead.")
def sherlock_position() -> dict[str, Any]:
    p: SherlockPositionParams = _params(SherlockPositionParams)
    return services.sherlock().at_position(p.ra, p.dec, lite=p.lite, radius_arcsec=p.radius)


@_lasair("/api/annotate/", AnnotateParams, "Annotate an object with your annotator (topic)",
         "The same as POST /annotations: stored, then announced, so on-annotation filters naming the annotator "
         "run for the object. classdict is a JSON object or its JSON text.")
def annotate() -> dict[str, Any]:
    p: AnnotateParams = _params(AnnotateParams)
    (record,) = services.annotation_service().upload(require_user(router), p.upload())
    message = {"diaObjectId": record.dia_object_id, "topic": record.annotator,
               "classification": record.classification, "version": record.version,
               "explanation": record.explanation, "classdict": record.classdict, "url": record.url}
    return {"status": "success", "annotation_topic": services.annotations_topic(),
            "message": json.dumps(message)}


@_lasair("/api/annotatelist/", AnnotateListParams, "Annotate several objects at once (all or nothing, at most 50)",
         "annotations: a list of annotate/'s parameter sets (the client posts JSON).")
def annotate_list() -> dict[str, Any]:
    p: AnnotateListParams = _params(AnnotateListParams)
    items = p.annotations
    if isinstance(items, str):
        try:
            items = request_body.loads(items) if items.strip() else []
        except json.JSONDecodeError as exc:
            raise BadRequest(f"annotations is not valid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(items, list):
            raise BadRequest("annotations must be a JSON list of annotations")
    uploads = [
        {**item, "classdict": json_object(f"annotation {n}: classdict", item["classdict"])}
        if isinstance(item, dict) and "classdict" in item else item
        for n, item in enumerate(items)
    ]
    if not uploads:
        raise BadRequest("annotations is empty; send a list of one or more annotations")
    records = services.annotation_service().upload(require_user(router), uploads)
    return {"status": "success", "n": len(records)}


AUTH_TOKEN = "/api/auth-token/"


# Left out of /openapi.json: it is not built (a 501), and the document lists what the API does.
@router.route(AUTH_TOKEN, method=["GET", "POST"], include_in_schema=False)
def auth_token() -> dict[str, Any]:
    raise NotBuilt("skystream keeps no passwords, so it cannot trade one for a key: an administrator makes a user "
                   "and its key with `skystream users add NAME EMAIL` (another key: `skystream users token USER_ID`)")
