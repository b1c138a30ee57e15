"""/watchmaps: create from a MOC or a cone, list (yours and the public ones), show, export, change, delete
(docs/watchlists.md#watchmaps); the same lifecycle as /watchlists."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from skystream.api.auth import require_user
from skystream.api.models import (
    WatchmapCreate,
    WatchmapList,
    WatchmapOut,
    WatchmapPatch,
    WatchmapText,
    error_responses,
)
from skystream.services.watchmaps import ConeArea, NewWatchmap
from skystream.wiring import api as wiring  # the container's services, one per process

router = Router()

WatchmapId = Annotated[int, Path(ge=1, le=10**12, description="The watchmap's id (the N of watchmap:N)")]


@router.post("/watchmaps", status_code=201, summary="Create a watchmap from a MOC (ASCII or JSON) or a cone",
             tags=["watchmaps"], responses=error_responses(400, 401, success=201))
def create_watchmap(body: Annotated[WatchmapCreate, Body()]) -> WatchmapOut:
    user = require_user(router)
    cone = ConeArea(**body.cone.model_dump()) if body.cone else None
    new = NewWatchmap(name=body.name, moc=body.moc, cone=cone, description=body.description, public=body.public,
                      active=body.active)
    return WatchmapOut.of(wiring.watchmap_service().create(user, new))


@router.get("/watchmaps", summary="Your watchmaps and everyone's public ones", tags=["watchmaps"],
            responses=error_responses(401))
def list_watchmaps() -> WatchmapList:
    user = require_user(router)
    return WatchmapList(watchmaps=[WatchmapOut.of(w) for w in wiring.watchmap_service().listing(user)])


@router.get("/watchmaps/<ar_id>", summary="One watchmap's settings (yours, or a public one)", tags=["watchmaps"],
            responses=error_responses(401, 404))
def get_watchmap(ar_id: WatchmapId) -> WatchmapOut:
    user = require_user(router)
    return WatchmapOut.of(wiring.watchmap_service().visible(user, ar_id))


@router.get("/watchmaps/<ar_id>/export", summary="A watchmap's MOC in ASCII (creates the same watchmap again)",
            tags=["watchmaps"], responses=error_responses(401, 404))
def export_watchmap(ar_id: WatchmapId) -> WatchmapText:
    user = require_user(router)
    return WatchmapText(ar_id=ar_id, moc=wiring.watchmap_service().export(user, ar_id))


@router.patch("/watchmaps/<ar_id>", summary="Change the name, description, public or active of a watchmap of yours",
              tags=["watchmaps"], responses=error_responses(400, 401, 403, 404))
def patch_watchmap(ar_id: WatchmapId, body: Annotated[WatchmapPatch, Body()]) -> WatchmapOut:
    user = require_user(router)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return WatchmapOut.of(wiring.watchmap_service().update(user, ar_id, changes))


@router.post("/watchmaps/<ar_id>/rerun", summary="The watchmap's hits among the stored objects (by the sky index)",
             tags=["watchmaps"], responses=error_responses(400, 401, 404))
def rerun_watchmap(ar_id: WatchmapId) -> dict[str, Any]:
    user = require_user(router)
    return asdict(wiring.watchmap_service().rerun(user, ar_id))


@router.delete("/watchmaps/<ar_id>", summary="Delete a watchmap of yours", tags=["watchmaps"],
               responses=error_responses(401, 403, 404))
def delete_watchmap(ar_id: WatchmapId) -> dict[str, int]:
    user = require_user(router)
    return {"deleted": wiring.watchmap_service().delete(user, ar_id).ar_id}
