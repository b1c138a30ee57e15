"""Per-user request counts in fixed clock windows, in the quota table (``pk="rate#<what>#<user>#<window>"``).

Windows are one minute unless the caller asks for another length (the Lasair API's hourly
quota asks for 3600 s; its ``what`` differs, so the two counts never share an item).

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

    def hit(self, what: str, user_id: int, window_s: int = WINDOW_S) -> tuple[int, float]:
        now = self.clock()
        window = int(now // window_s)
        out = self._db.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"rate#{what}#{int(user_id)}#{window}"}},
            UpdateExpression="ADD #n :one SET expires_at = :exp",
            ExpressionAttributeNames={"#n": "requests"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":exp": {"N": str((window + 1) * window_s + 3600)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["requests"]["N"]), (window + 1) * window_s - now
