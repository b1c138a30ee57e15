"""Kafka trigger on ``alerts-enriched``: run the active filters on the batch, produce their records."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.config import settings
from skystream.filters.schedule import BatchBudget
from skystream.streams.lambda_event import records_from_event
from skystream.wiring.matching import enriched_matcher

FUNCTION = "filter_matcher"
logger = Logger()
metrics = Metrics(service=FUNCTION)  # dimension service = the function: one metric name, several functions
enriched_matcher()  # built at cold start: a missing or malformed setting fails here, naming the variable

_COUNTS = ("matched", "produced", "dropped_oversize", "dropped_quota", "failed_filters", "skipped_filters", "emailed",
           "dead_lettered")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    budget = BatchBudget.from_remaining(context.get_remaining_time_in_millis(), settings().match_reserve_s)
    report = enriched_matcher().match_enriched(records_from_event(event), budget=budget)
    for name, value in report.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return {name: getattr(report, name) for name in ("objects", *_COUNTS)}  # failed and skipped filters are
    # logged once each by the matcher (services.matching)
