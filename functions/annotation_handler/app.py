"""Kafka trigger on ``annotations``: re-run on-annotation filters for the annotated objects."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.config import settings
from skystream.filters.schedule import BatchBudget
from skystream.streams.lambda_event import records_from_event
from skystream.wiring.matching import annotation_trigger

FUNCTION = "annotation_handler"
logger = Logger()
metrics = Metrics(service=FUNCTION)  # dimension service = the function: one metric name, several functions
annotation_trigger()  # built at cold start: a missing or malformed setting fails here, naming the variable


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    budget = BatchBudget.from_remaining(context.get_remaining_time_in_millis(), settings().match_reserve_s)
    report = annotation_trigger().on_annotations(records_from_event(event), budget=budget)
    for name, value in report.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if report.unknown_objects:
        logger.info("annotated objects with no stored features skipped", extra={"ids": report.unknown_ids[:20]})
    return asdict(report)
