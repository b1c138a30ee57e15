"""Backtests: what a filter would have matched, night by night, over the history."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from skystream.api.auth import require_user
from skystream.api.models import AdhocBacktest, BacktestResponse, NightOut, error_responses
from skystream.domain.filters import FilterSpec
from skystream.services.filters import unsaved_filter
from skystream.services.history import BACKTEST_WARN_SHARE, MAX_BACKTEST_NIGHTS, MAX_SAMPLE, Backtest
from skystream.wiring import api as wiring

router = Router()

FilterId = Annotated[str, Path(min_length=1, max_length=64, description="The filter's id")]
Nights = Annotated[int, Query(ge=1, le=MAX_BACKTEST_NIGHTS, description="How many of the history's newest nights")]
Sample = Annotated[int, Query(ge=0, le=MAX_SAMPLE, description="Rows shown per night")]


def _answer(result: Backtest) -> BacktestResponse:
    return BacktestResponse(
        nights=[NightOut(night=n.night, alerts=n.alerts, objects=n.objects, total=n.total, share=round(n.share, 6),
                         sample=n.sample) for n in result.nights],
        warnings=result.warnings, warn_share=BACKTEST_WARN_SHARE, elapsed_s=round(result.elapsed_s, 4))


@router.post("/filters/<filter_id>/backtest", summary="What the filter would have matched on each recent night",
             tags=["filters"], responses=error_responses(400, 401, 404, 429, 503))
def backtest_filter(filter_id: FilterId, nights: Nights = 3, sample: Sample = 5) -> BacktestResponse:
    user = require_user(router)
    f = wiring.filter_service().visible(user, filter_id)
    return _answer(wiring.history_service().backtest(user.user_id, f, nights=nights, sample=sample))


@router.post("/filters/backtest", summary="Backtest an unsaved query over the history's recent nights",
             tags=["filters"], responses=error_responses(400, 401, 429, 503))
def backtest_adhoc(body: Annotated[AdhocBacktest, Body()]) -> BacktestResponse:
    user = require_user(router)
    spec = FilterSpec.model_validate(body.model_dump(exclude={"nights", "sample"}))
    return _answer(wiring.history_service().backtest(user.user_id, unsaved_filter(spec), nights=body.nights,
                                                     sample=body.sample))
