"""Kafka trigger on ``alerts``: decode, compute features, store, forward to ``alerts-enriched``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.config import settings
from skystream.streams.lambda_event import records_from_event
from skystream.streams.producer import shared_producer
from skystream.walking_skeleton import forward_alerts

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    forwarded = forward_alerts(records_from_event(event), shared_producer(), settings().topic_enriched)
    metrics.add_metric(name="AlertsForwarded", unit=MetricUnit.Count, value=forwarded)
    return {"forwarded": forwarded}
