"""Kafka trigger on ``alerts-enriched``: run the active filters on the batch, produce their records."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.matching import match_enriched
from skystream.streams.lambda_event import records_from_event

logger = Logger()
metrics = Metrics()

_COUNTS = ("matched", "produced", "dropped_oversize", "dropped_quota", "failed_filters", "emailed", "dead_lettered")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    report = match_enriched(records_from_event(event))
    counts = {name: getattr(report, name) for name in ("objects", *_COUNTS)}
    for name in _COUNTS:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
    if report.failed_filters:
        logger.warning("filters failed", extra={"failed": {k: v.error for k, v in report.per_filter.items() if v.error}})
    return counts
