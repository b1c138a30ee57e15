"""Daily schedule: send each user one email with all results of their email filters."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from skystream.digest.event import DigestEvent
from skystream.digest.send import CATCH_UP_DAYS, send_digest


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = DigestEvent.model_validate(event or {})
    catch_up = CATCH_UP_DAYS if request.catch_up_days is None else request.catch_up_days
    return asdict(send_digest(request.day(), catch_up_days=catch_up))
