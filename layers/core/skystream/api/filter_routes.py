"""/filters: create, list, read, replace, patch, delete, run now (saved or ad hoc)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from skystream.api.auth import require_user
from skystream.api.models import (
    AdhocRun,
    FilterCreate,
    FilterList,
    FilterOut,
    FilterPatch,
    FilterReplace,
    RunOver,
    RunResponse,
    SaveResponse,
    error_responses,
)
from skystream.domain.errors import BadRequest
from skystream.domain.filters import FilterSpec, StoredFilter
from skystream.domain.users import User
from skystream.services.filters import RunOutcome, SaveOutcome, unsaved_filter
from skystream.services.history import HistoryRun
from skystream.wiring import api as wiring  # the container's services, one per process

router = Router()

FilterId = Annotated[str, Path(min_length=1, max_length=64, description="The filter's id")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Most rows to return")]
Over = Annotated[RunOver, Query(description="recent: the newest 1,000 stored objects; all: every object in the history")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip (over=all only): the next page")]


def _saved(outcome: SaveOutcome) -> SaveResponse:
    return SaveResponse(filter=FilterOut.of(outcome.filter), topic=outcome.topic, reseeded=outcome.reseeded,
                        message=outcome.message)


def _ran(outcome: RunOutcome) -> RunResponse:
    return RunResponse(rows=outcome.rows, count=len(outcome.rows), truncated=outcome.truncated,
                       objects_scanned=outcome.objects_scanned, elapsed_s=round(outcome.elapsed_s, 4))


def _ran_over_history(outcome: HistoryRun) -> RunResponse:
    return RunResponse(rows=outcome.rows, count=len(outcome.rows), truncated=outcome.truncated, objects_scanned=None,
                       elapsed_s=round(outcome.elapsed_s, 4), over="all", nights=outcome.nights)


def _run(user: User, f: StoredFilter, *, limit: int, over: RunOver, offset: int) -> RunResponse:
    """Run now over the newest stored objects, or (``over=all``) over the history's every object."""
    if over == "all":
        return _ran_over_history(wiring.history_service().run_all(user.user_id, f, limit=limit, offset=offset))
    if offset:
        raise BadRequest("offset pages over=all results; over=recent returns the newest objects' rows at once")
    return _ran(wiring.filter_service().run(user, f, limit=limit))


@router.get("/filters", summary="Your filters, and (unless public=false) everyone's public ones", tags=["filters"], responses=error_responses(401))
def list_filters(
    public: Annotated[bool, Query(description="Include other users' public filters")] = True,
) -> FilterList:
    user = require_user(router)
    return FilterList(filters=[FilterOut.of(f) for f in wiring.filter_service().listing(user, include_public=public)])


@router.post("/filters", status_code=201, summary="Save a new filter (a Kafka filter gets its topic, reseeded)",
             tags=["filters"], responses=error_responses(400, 401, 403, 409, 503, success=201))
def create_filter(body: Annotated[FilterCreate, Body()]) -> SaveResponse:
    user = require_user(router)
    return _saved(wiring.filter_service().create(user, FilterSpec.model_validate(body.model_dump())))


@router.post("/filters/run", summary="Run an unsaved query now over the most recent objects, or every object in the history", tags=["filters"],
             responses=error_responses(400, 401, 429))
def run_adhoc(body: Annotated[AdhocRun, Body()]) -> RunResponse:
    user = require_user(router)
    spec = FilterSpec.model_validate(body.model_dump(exclude={"limit", "over", "offset"}))
    return _run(user, unsaved_filter(spec), limit=body.limit, over=body.over, offset=body.offset)


@router.get("/filters/<filter_id>", summary="One filter (yours, or a public one)", tags=["filters"], responses=error_responses(401, 404))
def get_filter(filter_id: FilterId) -> FilterOut:
    user = require_user(router)
    return FilterOut.of(wiring.filter_service().visible(user, filter_id))


@router.put("/filters/<filter_id>", summary="Replace a filter of yours (its topic is emptied and reseeded)",
            tags=["filters"], responses=error_responses(400, 401, 403, 404, 409, 503))
def replace_filter(filter_id: FilterId, body: Annotated[FilterReplace, Body()]) -> SaveResponse:
    user = require_user(router)
    changes = body.model_dump(exclude={"version"})
    return _saved(wiring.filter_service().update(user, filter_id, changes, body.version))


@router.patch("/filters/<filter_id>", summary="Change some fields of a filter of yours", tags=["filters"], responses=error_responses(400, 401, 403, 404, 409, 503))
def patch_filter(filter_id: FilterId, body: Annotated[FilterPatch, Body()]) -> SaveResponse:
    user = require_user(router)
    changes = body.model_dump(exclude={"version"}, exclude_unset=True)
    return _saved(wiring.filter_service().update(user, filter_id, changes, body.version))


@router.delete("/filters/<filter_id>", summary="Delete a filter of yours and its topic", tags=["filters"], responses=error_responses(401, 403, 404, 503))
def delete_filter(filter_id: FilterId) -> dict[str, str | None]:
    user = require_user(router)
    f = wiring.filter_service().delete(user, filter_id)
    return {"deleted": f.filter_id, "topic_deleted": f.topic}


@router.post("/filters/<filter_id>/run", summary="Run a filter now over the most recent objects, or every object in the history", tags=["filters"],
             responses=error_responses(400, 401, 404, 429))
def run_filter(filter_id: FilterId, limit: Limit = 100, over: Over = "recent", offset: Offset = 0) -> RunResponse:
    user = require_user(router)
    return _run(user, wiring.filter_service().visible(user, filter_id), limit=limit, over=over, offset=offset)
