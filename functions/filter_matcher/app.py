"""Kafka trigger on ``alerts-enriched``: run the active filters on the batch, produce their records."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.streams.lambda_event import records_from_event
from skystream.streams.producer import shared_producer
from skystream.walking_skeleton import match_hard_wired_rule

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    matched = match_hard_wired_rule(records_from_event(event), shared_producer())
    metrics.add_metric(name="RecordsProduced", unit=MetricUnit.Count, value=matched)
    return {"matched": matched}
