"""Daily schedule: send each user one email with all results of their email filters."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise NotImplementedError("email_digest is built in the email digest issue (#7)")
