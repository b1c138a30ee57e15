"""Kafka trigger on ``annotations``: re-run on-annotation filters for the annotated objects."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.config import settings
from skystream.filters.schedule import BatchBudget
from skystream.services.annotation_trigger import on_annotations
from skystream.streams.lambda_event import records_from_event

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    budget = BatchBudget.from_remaining(context.get_remaining_time_in_millis(), settings().match_reserve_s)
    report = on_annotations(records_from_event(event), budget=budget)
    counts = asdict(report)
    for name in ("events", "bad_events", "dead_lettered", "unknown_objects", "matched", "produced",
                 "dropped_oversize", "dropped_quota", "failed_filters", "skipped_filters", "emailed"):
        metrics.add_metric(name=f"annotation_{name}", unit=MetricUnit.Count, value=counts[name])
    if report.unknown_objects:
        logger.info("annotated objects with no stored features skipped", extra={"ids": report.unknown_ids[:20]})
    return counts
