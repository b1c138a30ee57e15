"""HTTP API: filters, runs, annotations, objects, schema (API Gateway HTTP API, payload 2.0)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.api.app import app, request_metrics
from skystream.wiring import users
from skystream.wiring.api import annotation_service, filter_service, object_reads

FUNCTION = "filter_api"
logger = Logger()
metrics = Metrics(service=FUNCTION)  # dimension service = the function: one metric name, several functions
# Built at cold start: a missing or malformed setting fails here, naming the variable.
filter_service(), annotation_service(), object_reads(), users()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = app.resolve(event, context)
    for name, value in request_metrics(response).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return response
