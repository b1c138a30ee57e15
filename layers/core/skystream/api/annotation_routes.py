"""/annotations (upload one or a list), /objects/{id}/annotations (latest + history), /context/{table} (admin).

Upload bodies are read by :func:`skystream.services.annotations.parse_uploads` rather than by
powertools' validation: a body may be one object or a list, and a problem in item 7 of
500 should say "annotation 7: classification: ..." (400), not a union-type error dump.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, Field

from skystream import wiring
from skystream.api import body as request_body
from skystream.api.auth import require_user
from skystream.api.models import ErrorBody, ObjectId
from skystream.domain.annotations import MAX_UPLOADS_PER_REQUEST
from skystream.domain.errors import BadRequest, Forbidden
from skystream.services.context import load_text
from skystream.storage.context import check_table
from skystream.wiring import api as services

router = Router()

TableName = Annotated[str, Path(description="sherlock_classifications or crossmatch_tns")]


def _errors(meanings: dict[int, str]) -> dict[int, dict[str, Any]]:
    return {code: {"description": text, "content": {"application/json": {"model": ErrorBody}}}
            for code, text in meanings.items()}


def _ok(code: int, model: type[BaseModel], text: str) -> dict[int, dict[str, Any]]:
    """Powertools drops the success response from the document once ``responses`` is given: name it."""
    return {code: {"description": text, "content": {"application/json": {"model": model}}}}


UPLOAD_ERRORS = _errors({
    400: "A field is missing, unknown, too long or of the wrong type ('annotation <i>: <field>: <problem>'), "
         "or the body is not JSON; nothing was stored",
    401: "No valid 'Authorization: Token <key>' header",
    403: "The annotator belongs to another user, or is inactive",
    404: "No annotator of that name (an administrator registers it with `skystream annotators add`)",
})
CONTEXT_ERRORS = _errors({
    400: "A row has an unknown column, a bad value or no integer diaObjectId; nothing was stored",
    401: "No valid 'Authorization: Token <key>' header",
    403: "Only administrators load context tables",
    404: "No such context table",
})
UPLOAD_BODY = (
    "One annotation as a JSON object, or a list of up to " + str(MAX_UPLOADS_PER_REQUEST) + " of them: "
    '{"annotator": "myclassifier", "diaObjectId": 170032882292375568, "classification": "SN" (<= 80 chars), '
    '"version": "1.2", "explanation": "...", "classdict": {"prob": 0.93} (a JSON object), "url": "https://..."}. '
    "Lasair's names topic and objectId are accepted for annotator and diaObjectId. All or nothing: every item is "
    "checked before any is stored, and all are stored in one transaction. Each stored annotation re-runs the "
    "on-annotation filters naming its annotator."
)


class AcceptedAnnotation(BaseModel):
    diaObjectId: int
    annotator: str
    classification: str
    timestamp: str = Field(description="When it was stored, 'YYYY-MM-DD HH:MM:SS' UTC")


class UploadResponse(BaseModel):
    accepted: int = Field(description="How many annotations were stored (all of them, or the request failed)")
    annotations: list[AcceptedAnnotation]


class ObjectAnnotations(BaseModel):
    diaObjectId: int
    annotations: list[dict[str, Any]] = Field(description="The latest annotation of each annotator: what filters see")
    history: list[dict[str, Any]] = Field(description="Every upload for the object, newest first")


class ContextLoaded(BaseModel):
    table: str
    stored: int = Field(description="Objects whose row of this table was stored (replacing any earlier row)")


def _json_body() -> Any:
    text = router.current_event.decoded_body
    if not text:
        raise BadRequest("the request has no body; send one annotation as a JSON object, or a JSON list of them")
    try:
        return request_body.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc


@router.post("/annotations", status_code=201, tags=["annotations"],
             summary="Upload one annotation or a list; the caller must own each annotator, which must be active",
             description=UPLOAD_BODY,
             responses=_ok(201, UploadResponse, "All stored and announced") | UPLOAD_ERRORS)
def upload_annotations() -> UploadResponse:
    user = require_user(router)
    records = services.annotation_service().upload(user, _json_body())
    return UploadResponse(accepted=len(records), annotations=[
        AcceptedAnnotation(diaObjectId=r.dia_object_id, annotator=r.annotator, classification=r.classification,
                           timestamp=r.timestamp)
        for r in records
    ])


@router.get("/objects/<dia_object_id>/annotations", tags=["objects"],
            responses=_ok(200, ObjectAnnotations, "Latest per annotator, and the history")
            | _errors({401: "No valid 'Authorization: Token <key>' header"}),
            summary="An object's annotations: the latest per annotator and every upload, newest first")
def object_annotations(dia_object_id: ObjectId) -> ObjectAnnotations:
    require_user(router)
    shown = services.object_reads().annotations_of(dia_object_id)
    return ObjectAnnotations(diaObjectId=dia_object_id, **shown)


@router.post("/context/<table>", tags=["context"],
             summary="Administrators: load context rows (a JSON list, {\"rows\": [...]}, JSON lines, "
             "or CSV with Content-Type text/csv)",
             responses=_ok(200, ContextLoaded, "All rows stored") | CONTEXT_ERRORS)
def load_context(table: TableName) -> ContextLoaded:
    user = require_user(router)
    if not user.is_admin:
        raise Forbidden("loading context tables is for administrators")
    check_table(table)  # UnknownContextTable: 404, before the body is read
    content_type = (router.current_event.headers or {}).get("content-type", "")
    fmt = "csv" if "csv" in content_type.lower() else "json"
    text = router.current_event.decoded_body or ""
    if not text.strip():
        raise BadRequest("the request has no rows; send a JSON list of rows, JSON lines, or CSV with a header")
    stored = load_text(table, text, fmt, wiring.context())  # ContextFileError: 400 naming the row and column
    return ContextLoaded(table=table, stored=stored)
