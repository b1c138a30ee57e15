"""/schema (what a filter may use) and /objects/{diaObjectId} (features, lightcurve, annotations)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from skystream.api.auth import require_user
from skystream.api.models import ColumnOut, Me, ObjectId, ObjectOut, SchemaResponse, TableOut, error_responses
from skystream.filters.schema import schema_views
from skystream.wiring import api as services

router = Router()

WithHistory = Annotated[bool, Query(description="Also every detection and forced measurement the history holds")]


@router.get("/schema", summary="Tables and columns a filter may use, with descriptions", tags=["schema"],
            responses=error_responses())
def schema() -> SchemaResponse:
    return SchemaResponse(tables=[
        TableOut(name=view.name, description=view.description,
                 columns=[ColumnOut(name=c.name, type=c.sql_type, description=c.description,
                                    null_reason=c.null_reason or None) for c in view.columns])
        for view in schema_views()
    ])


@router.get("/objects/<dia_object_id>", summary="One object: features, lite lightcurve, annotations",
            tags=["objects"],
            responses=error_responses(401, 404))
def get_object(dia_object_id: ObjectId, history: WithHistory = False) -> ObjectOut:
    require_user(router)
    view = services.object_reads().view(dia_object_id)
    lightcurve = services.history_service().lightcurve(dia_object_id) if history else None
    return ObjectOut(diaObjectId=view.dia_object_id, objects=view.objects, lite=view.lite,
                     annotations=view.annotations, annotation_history=view.annotation_history, context=view.context,
                     history=lightcurve)


@router.get("/me", summary="Who this token belongs to", tags=["users"], responses=error_responses(401))
def me() -> Me:
    user = require_user(router)
    return Me(user_id=user.user_id, name=user.name, email=user.email, is_admin=user.is_admin)
