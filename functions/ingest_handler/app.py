"""Kafka trigger on ``alerts``: decode, compute features, store, forward to ``alerts-enriched``.

Bad records go to ``alerts-dlq`` (never an exception); a storage or produce failure
raises so the event source retries the batch.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.streams.lambda_event import records_from_event
from skystream.wiring.ingest import ingest_service

FUNCTION = "ingest_handler"
logger = Logger()
metrics = Metrics(service=FUNCTION)  # dimension service = the function: one metric name, several functions
ingest_service()  # built at cold start: a missing or malformed setting fails here, naming the variable


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    report = ingest_service().process(records_from_event(event))
    for name, value in report.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if report.reasons:
        logger.warning("records sent to the dead-letter topic", extra={"reasons": report.reasons[:20]})
    return {k: v for k, v in vars(report).items() if isinstance(v, int)}
