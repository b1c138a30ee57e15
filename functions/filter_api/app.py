"""HTTP API: filters, runs, annotations, objects, schema (API Gateway HTTP API, payload 2.0)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from skystream.api.app import app

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
