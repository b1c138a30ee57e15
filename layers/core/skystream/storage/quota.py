"""Per-filter daily byte counters in the quota table (``pk="bytes#<filter_id>#<YYYY-MM-DD>"``).

The matcher reads a filter's count once per batch, admits records one by one while
they fit, then adds what it produced. Items expire two days after their day (TTL).
Two matcher containers racing on one filter can overshoot a quota by at most one
batch each; the counter itself never loses an addition (atomic ADD).
"""

from __future__ import annotations

import datetime as dt

from skystream.aws import client
from skystream.config import settings


def _pk(filter_id: str, day: dt.date) -> str:
    return f"bytes#{filter_id}#{day.isoformat()}"


def _expiry(day: dt.date) -> int:
    end = dt.datetime.combine(day + dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC)
    return int(end.timestamp())


class QuotaStore:
    def __init__(self, table: str | None = None):
        self.table = table or settings().quota_table
        self._db = client("dynamodb")

    def used(self, filter_id: str, day: dt.date) -> int:
        item = self._db.get_item(
            TableName=self.table, Key={"pk": {"S": _pk(filter_id, day)}}, ConsistentRead=True
        ).get("Item")
        return int(item["bytes"]["N"]) if item else 0

    def add(self, filter_id: str, day: dt.date, nbytes: int) -> int:
        """Add ``nbytes`` to the day's count; returns the new total."""
        if nbytes <= 0:
            return self.used(filter_id, day)
        out = self._db.update_item(
            TableName=self.table,
            Key={"pk": {"S": _pk(filter_id, day)}},
            UpdateExpression="ADD #b :n SET expires_at = :exp",
            ExpressionAttributeNames={"#b": "bytes"},
            ExpressionAttributeValues={":n": {"N": str(nbytes)}, ":exp": {"N": str(_expiry(day))}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["bytes"]["N"])
