"""Per-user request counts in fixed one-minute windows, in the quota table (``pk="rate#<what>#<user>#<window>"``).

An atomic ADD per request, so the count holds across API containers; items expire an hour
after their window (TTL). A fixed window lets a burst of up to twice the rate straddle a
window boundary, which is good enough for what it guards (run-now, a few seconds each).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from skystream.aws import client
from skystream.config import settings

WINDOW_S = 60


class RateStore:
    """:class:`~skystream.ports.RateCounter` over the quota table."""

    def __init__(self, table: str | None = None, clock: Callable[[], float] = time.time):
        self.table = table or settings().quota_table
        self.clock = clock
        self._db = client("dynamodb")

    def hit(self, what: str, user_id: int) -> tuple[int, float]:
        now = self.clock()
        window = int(now // WINDOW_S)
        out = self._db.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"rate#{what}#{int(user_id)}#{window}"}},
            UpdateExpression="ADD #n :one SET expires_at = :exp",
            ExpressionAttributeNames={"#n": "requests"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":exp": {"N": str((window + 1) * WINDOW_S + 3600)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["requests"]["N"]), (window + 1) * WINDOW_S - now
