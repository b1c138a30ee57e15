"""/filters/{id}/records: the last records of a filter's topic, paged back in time (the web page's stream view)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from skystream.api.auth import require_user
from skystream.api.models import RecordOut, RecordPage, error_responses
from skystream.services.filter_records import DEFAULT_PAGE, MAX_PAGE
from skystream.wiring import api as wiring

router = Router()


@router.get("/filters/<filter_id>/records", tags=["filters"],
            summary="The newest records of a filter's topic (yours, or a public filter's), older ones with ?before=",
            responses=error_responses(400, 401, 404, 503))
def filter_records(
    filter_id: Annotated[str, Path(min_length=1, max_length=64, description="The filter's id")],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Most records to return")] = DEFAULT_PAGE,
    before: Annotated[str | None, Query(max_length=2000,
                                        description="The next_before of the previous page (partition:offset,...)")]
    = None,
) -> RecordPage:
    user = require_user(router)
    page = wiring.filter_records().page(user, filter_id, limit=limit, before=before)
    return RecordPage(filter_id=page.filter_id, topic=page.topic, next_before=page.next_before,
                      message=page.message, complete=page.complete,
                      records=[RecordOut(**asdict(r)) for r in page.records])
