"""Kafka trigger on ``alerts-enriched`` (long batching window): append each batch to the history on S3.

One Parquet file per (table, night) per batch; bad records go to ``alerts-dlq`` (``stage=history``);
an S3 or broker failure raises so the event source retries the batch (its files are overwritten, not doubled).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.streams.lambda_event import records_from_event
from skystream.wiring.history import history_writer

FUNCTION = "history_writer"
logger = Logger()
metrics = Metrics(service=FUNCTION)  # dimension service = the function: one metric name, several functions
history_writer()  # built at cold start: a missing or malformed setting fails here, naming the variable


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    report = history_writer().process(records_from_event(event))
    for name, value in report.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return {k: v for k, v in vars(report).items() if isinstance(v, int)}
