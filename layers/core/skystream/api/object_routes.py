"""/schema (what a filter may use) and /objects/{diaObjectId} (features, lightcurve, annotations)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from skystream.api.auth import require_user
from skystream.api.models import ColumnOut, Me, ObjectId, ObjectOut, SchemaResponse, TableOut, error_responses
from skystream.domain.errors import NotFound
from skystream.outputs.formats import clean

router = Router()


@router.get("/schema", summary="Tables and columns a filter may use, with descriptions", tags=["schema"],
            responses=error_responses())
def schema() -> SchemaResponse:
    from skystream.filters.schema import TABLES

    return SchemaResponse(tables=[
        TableOut(name=name, columns=[ColumnOut(name=c.name, type=c.sql_type, description=c.description)
                                     for c in table.columns.values()])
        for name, table in TABLES.items()
    ])


@router.get("/objects/<dia_object_id>", summary="One object: features, lite lightcurve, annotations",
            tags=["objects"],
            responses=error_responses(401, 404))
def get_object(dia_object_id: ObjectId) -> ObjectOut:
    require_user(router)
    from skystream.storage.annotations import AnnotationStore
    from skystream.storage.context import ContextStore
    from skystream.storage.objects import ObjectStore

    annotations = AnnotationStore()
    stored = ObjectStore().get(dia_object_id)
    if stored is None:
        raise NotFound(f"no object {dia_object_id} has been seen (objects appear with their first alert)")
    return ObjectOut(
        diaObjectId=dia_object_id,
        objects=clean(stored.row),
        lite=clean(stored.lite),
        annotations=clean(annotations.latest_for_object(dia_object_id)),
        annotation_history=clean(annotations.history(dia_object_id)),
        context=clean(ContextStore().for_object(dia_object_id)),
    )


@router.get("/me", summary="Who this token belongs to", tags=["users"], responses=error_responses(401))
def me() -> Me:
    user = require_user(router)
    return Me(user_id=user.user_id, name=user.name, email=user.email, is_admin=user.is_admin)
