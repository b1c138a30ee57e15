"""Daily schedule: send each user one email with all results of their email filters."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from skystream.services.digest.event import DigestEvent
from skystream.services.digest.send import CATCH_UP_DAYS, send_digest

_RESERVE_MS = 60_000  # stop starting new users with a minute left, so no send is cut mid-way


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = DigestEvent.model_validate(event or {})
    report = send_digest(
        request.day(),
        catch_up_days=CATCH_UP_DAYS if request.catch_up_days is None else request.catch_up_days,
        out_of_time=lambda: context is not None and context.get_remaining_time_in_millis() < _RESERVE_MS,
    )
    report.raise_for_failures()
    return asdict(report)
