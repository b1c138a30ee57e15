"""Kafka trigger on ``alerts-enriched``: run the active filters on the batch, produce their records."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.config import settings
from skystream.filters.schedule import BatchBudget
from skystream.services.matching import match_enriched
from skystream.streams.lambda_event import records_from_event

logger = Logger()
metrics = Metrics()

_COUNTS = ("matched", "produced", "dropped_oversize", "dropped_quota", "failed_filters", "skipped_filters", "emailed",
           "dead_lettered")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    budget = BatchBudget.from_remaining(context.get_remaining_time_in_millis(), settings().match_reserve_s)
    report = match_enriched(records_from_event(event), budget=budget)
    counts = {name: getattr(report, name) for name in ("objects", *_COUNTS)}
    for name in _COUNTS:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
    return counts  # failed and skipped filters are logged once each by the matcher (services.matching)
