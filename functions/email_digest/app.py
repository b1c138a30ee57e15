"""Daily schedule: send each user one email with all results of their email filters."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skystream.services.digest.event import DigestEvent
from skystream.services.digest.send import CATCH_UP_DAYS
from skystream.wiring.digest import digest_sender

FUNCTION = "email_digest"
_RESERVE_MS = 60_000  # stop starting new users with a minute left, so no send is cut mid-way
logger = Logger()
metrics = Metrics(service=FUNCTION)  # dimension service = the function: one metric name, several functions
digest_sender()  # built at cold start: a missing or malformed setting fails here, naming the variable


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = DigestEvent.model_validate(event or {})
    report = digest_sender().send(
        request.day(),
        catch_up_days=CATCH_UP_DAYS if request.catch_up_days is None else request.catch_up_days,
        out_of_time=lambda: context.get_remaining_time_in_millis() < _RESERVE_MS,
    )
    for name, value in report.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    report.raise_for_failures()
    return asdict(report)
