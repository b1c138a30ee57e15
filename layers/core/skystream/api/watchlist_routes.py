"""/watchlists: create from text, list (yours and the public ones), show, export, change, delete (docs/watchlists.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from skystream.api.auth import require_user
from skystream.api.models import (
    WatchlistCreate,
    WatchlistList,
    WatchlistOut,
    WatchlistPatch,
    WatchlistText,
    error_responses,
)
from skystream.services.watchlists import NewWatchlist
from skystream.wiring import api as wiring  # the container's services, one per process

router = Router()

WatchlistId = Annotated[int, Path(ge=1, le=10**12, description="The watchlist's id (the N of watchlist:N)")]


@router.post("/watchlists", status_code=201, summary="Create a watchlist from text (RA, Dec, name[, radius] lines)",
             tags=["watchlists"], responses=error_responses(400, 401, success=201))
def create_watchlist(body: Annotated[WatchlistCreate, Body()]) -> WatchlistOut:
    user = require_user(router)
    return WatchlistOut.of(wiring.watchlist_service().create(user, NewWatchlist(**body.model_dump())))


@router.get("/watchlists", summary="Your watchlists and everyone's public ones", tags=["watchlists"],
            responses=error_responses(401))
def list_watchlists() -> WatchlistList:
    user = require_user(router)
    return WatchlistList(watchlists=[WatchlistOut.of(w) for w in wiring.watchlist_service().listing(user)])


@router.get("/watchlists/<wl_id>", summary="One watchlist's settings (yours, or a public one)", tags=["watchlists"],
            responses=error_responses(401, 404))
def get_watchlist(wl_id: WatchlistId) -> WatchlistOut:
    user = require_user(router)
    return WatchlistOut.of(wiring.watchlist_service().visible(user, wl_id))


@router.get("/watchlists/<wl_id>/export", summary="A watchlist's sources as text (creates the same watchlist again)",
            tags=["watchlists"], responses=error_responses(401, 404))
def export_watchlist(wl_id: WatchlistId) -> WatchlistText:
    user = require_user(router)
    return WatchlistText(wl_id=wl_id, text=wiring.watchlist_service().export(user, wl_id))


@router.patch("/watchlists/<wl_id>", summary="Change the name, description, public or active of a watchlist of yours",
              tags=["watchlists"], responses=error_responses(400, 401, 403, 404))
def patch_watchlist(wl_id: WatchlistId, body: Annotated[WatchlistPatch, Body()]) -> WatchlistOut:
    user = require_user(router)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return WatchlistOut.of(wiring.watchlist_service().update(user, wl_id, changes))


@router.post("/watchlists/<wl_id>/rerun", summary="The watchlist's hits among the stored objects (by the sky index)",
             tags=["watchlists"], responses=error_responses(400, 401, 404))
def rerun_watchlist(wl_id: WatchlistId) -> dict[str, Any]:
    user = require_user(router)
    return asdict(wiring.watchlist_service().rerun(user, wl_id))


@router.delete("/watchlists/<wl_id>", summary="Delete a watchlist of yours", tags=["watchlists"],
               responses=error_responses(401, 403, 404))
def delete_watchlist(wl_id: WatchlistId) -> dict[str, int]:
    user = require_user(router)
    return {"deleted": wiring.watchlist_service().delete(user, wl_id).wl_id}
