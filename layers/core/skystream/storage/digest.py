"""The digest table: email-filter matches waiting for the daily email, and what was sent.

One DynamoDB table (hash ``pk``, range ``sk``, TTL ``expires_at``) holds four kinds of item:

``pk = d#<day>``              ``sk = u#<user_id>``                 "this user has results on this day"
``pk = d#<day>#u#<user_id>``  ``sk = m#<utc>#<filter>#<objects>``  up to 100 matches of one filter, as JSON text
``pk = d#<day>#u#<user_id>``  ``sk = sent#<part>``                 SES accepted part N, holding these match items
``pk = d#<day>#u#<user_id>``  ``sk = lock``                        a digest run is sending to this user now

Matches are packed, up to ``RECORDS_PER_ITEM`` per item: a busy day of 50,000 matches is
500 items to write and a few 1 MB pages to read, not 50,000 of each. An item's key is a
function of (day, utc, filter, the set of objects it holds), so a retried batch rewrites
the same items; the reader also drops repeats of (filter, object, utc), so each such
match is delivered once however its batches were retried. A "sent" marker lists (as
8-byte hashes of their keys) exactly the items its email held, so ``pending`` is every
item no marker lists, minus matches an earlier part already delivered: a match written
after (or while) a day was sent goes out in the next run, whatever its time stamp.
Records are JSON text, not DynamoDB maps, so values come back exactly as the matcher
formatted them (no float -> Decimal round trip).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from skystream.aws import client
from skystream.config import settings
from skystream.domain.digest import Match, SentPart
from skystream.storage.bulk import batch_put, paged_items

RECORDS_PER_ITEM = 100
MAX_ITEMS_PER_PART = 15_000  # a sent marker lists its items in 8 bytes each: 120 KB, under the 400 KB item limit
MAX_ITEM_JSON_BYTES = 300_000  # DynamoDB's item limit is 400 KB
RETENTION_DAYS = 30  # matches and sent markers outlive their day by this long (retries, support questions)
_MATCH = "m#"
_SENT = "sent#"
_LOCK = "lock"




def item_hash(sk: str) -> bytes:
    """8 bytes naming a stored match item in a sent marker (collision odds ~1e-10 for 50,000 items)."""
    return hashlib.sha256(sk.encode()).digest()[:8]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a digest record")


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null, as everywhere else in skystream."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal) and not value.is_finite():
        return None
    return value


def record_json(record: dict[str, Any]) -> str:
    """The record as strict JSON text (Decimals as numbers, NaN/inf as null), column order kept."""
    return json.dumps({k: _finite(v) for k, v in record.items()}, default=_json_default,
                      separators=(",", ":"), allow_nan=False)


def _object_key(row: dict[str, Any]) -> str:
    """The object a row is about: its diaObjectId when selected, else a hash of the row itself.

    A filter need not select ``diaObjectId``; two rows with identical selected values at
    the same second of the same filter are then indistinguishable in the email anyway.
    """
    for name in ("diaObjectId", "objectId", "objects.diaObjectId"):
        if row.get(name) is not None:
            return str(_json_default(row[name]) if isinstance(row[name], Decimal) else row[name])
    return "h" + hashlib.sha256(record_json(row).encode()).hexdigest()[:24]


def _pack(keys: list[str], records: dict[str, str]) -> Iterator[list[str]]:
    """Consecutive groups of object keys whose records fit one item."""
    group: list[str] = []
    size = 0
    for key in keys:
        cost = len(records[key]) + len(key) + 8
        if group and (len(group) >= RECORDS_PER_ITEM or size + cost > MAX_ITEM_JSON_BYTES):
            yield group
            group, size = [], 0
        group.append(key)
        size += cost
    if group:
        yield group


def _unpack_hashes(blob: bytes) -> list[bytes]:
    return [blob[i : i + 8] for i in range(0, len(blob), 8)]


def _day_pk(day: dt.date) -> str:
    return f"d#{day.isoformat()}"


def _user_pk(day: dt.date, user_id: int) -> str:
    return f"d#{day.isoformat()}#u#{int(user_id)}"


def _expiry(day: dt.date) -> str:
    end = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(days=1 + RETENTION_DAYS)
    return str(int(end.timestamp()))


class DigestStore:
    """Matches of ``email`` filters per (day, user), and the record of what was mailed."""

    def __init__(self, table_name: str | None = None):
        self.table = table_name or settings().digest_table
        self._dynamodb = client("dynamodb")

    # -- written by the matcher ---------------------------------------------------------------
    def add_matches(self, day: dt.date, user_id: int, filter_id: str, filter_name: str,
                    rows: Sequence[dict[str, Any]], utc: str) -> int:
        """Store ``rows`` (selected attributes) of one filter for ``user_id``'s digest of ``day``.

        ``utc`` is the match time, ``YYYY-MM-DD HH:MM:SS``; it is added to each record as
        ``UTC``. Idempotent per (day, filter, object, utc): a retried batch overwrites the
        same items. Returns how many distinct records were written.
        """
        if not rows:
            return 0
        pk = _user_pk(day, user_id)
        expires = _expiry(day)
        records: dict[str, str] = {}  # object key -> record JSON; a repeated object in one call is one match
        for row in rows:
            records[_object_key(row)] = record_json({**{k: v for k, v in row.items() if k != "UTC"}, "UTC": utc})
        # "this user has results on this day" rides in the first batch with the matches (one round trip less)
        items: list[dict[str, Any]] = [
            {"pk": {"S": _day_pk(day)}, "sk": {"S": f"u#{int(user_id)}"}, "expires_at": {"N": expires}},
        ]
        for keys in _pack(sorted(records), records):
            digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
            items.append({
                "pk": {"S": pk}, "sk": {"S": f"{_MATCH}{utc}#{filter_id}#{digest}"},
                "filter_id": {"S": filter_id}, "filter_name": {"S": filter_name}, "utc": {"S": utc},
                "objects": {"S": json.dumps(keys)}, "records": {"S": "[" + ",".join(records[k] for k in keys) + "]"},
                "count": {"N": str(len(keys))}, "expires_at": {"N": expires},
            })
        batch_put(self._dynamodb, self.table, items)  # idempotent: a retried batch rewrites the same items
        return len(records)

    # -- read by the digest -----------------------------------------------------------------
    def _query(self, pk: str, prefix: str) -> Iterator[dict[str, Any]]:
        return paged_items(self._dynamodb, "query", TableName=self.table,
                           KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                           ExpressionAttributeValues={":pk": {"S": pk}, ":prefix": {"S": prefix}})

    def users(self, day: dt.date) -> list[int]:
        """Users with at least one match recorded for ``day``, ascending."""
        return sorted(int(item["sk"]["S"][2:]) for item in self._query(_day_pk(day), "u#"))

    def _items(self, day: dt.date, user_id: int) -> list[tuple[dict[str, Any], list[Match]]]:
        """Every stored match item of (day, user) in key order, with its matches (repeats kept)."""
        out = []
        for item in self._query(_user_pk(day, user_id), _MATCH):
            sk, filter_id, utc, name = item["sk"]["S"], item["filter_id"]["S"], item["utc"]["S"], item["filter_name"]["S"]
            pairs = zip(json.loads(item["objects"]["S"]), json.loads(item["records"]["S"]), strict=True)
            out.append((item, [Match(sk=sk, filter_id=filter_id, filter_name=name, utc=utc, record=record,
                                     object_key=key) for key, record in pairs]))
        return out

    @staticmethod
    def _once(matches: Iterable[Match], seen: set[tuple[str, str, str]]) -> list[Match]:
        out = []
        for match in matches:
            identity = (match.filter_id, match.object_key, match.utc)
            if identity not in seen:
                seen.add(identity)
                out.append(match)
        return out

    def matches(self, day: dt.date, user_id: int) -> list[Match]:
        """The user's matches of ``day`` in key order (UTC time first), each (filter, object, utc) once."""
        return self._once((m for _, ms in self._items(day, user_id) for m in ms), set())

    def sent_parts(self, day: dt.date, user_id: int) -> list[SentPart]:
        """Parts of this day's digest SES accepted, in part order."""
        return [
            SentPart(part=int(item["part"]["N"]), count=int(item["count"]["N"]),
                     message_id=item["message_id"]["S"], sent_at=item["sent_at"]["S"],
                     items=frozenset(_unpack_hashes(item["items"]["B"])))
            for item in self._query(_user_pk(day, user_id), _SENT)
        ]

    def pending(self, day: dt.date, user_id: int) -> tuple[list[Match], list[SentPart]]:
        """Matches no sent part delivered (in key order), and the sent parts (to number the next part)."""
        sent = self.sent_parts(day, user_id)
        covered = frozenset().union(*(p.items for p in sent))
        items = self._items(day, user_id)
        delivered = {(m.filter_id, m.object_key, m.utc)
                     for item, ms in items if item_hash(item["sk"]["S"]) in covered for m in ms}
        fresh = (m for item, ms in items if item_hash(item["sk"]["S"]) not in covered for m in ms)
        return self._once(fresh, delivered), sent

    def mark_sent(self, day: dt.date, user_id: int, part: int, matches: Sequence[Match], message_id: str) -> None:
        """Record that SES accepted ``part`` holding ``matches`` (whole items). Call only after SES said yes."""
        hashes = sorted({item_hash(m.sk) for m in matches})
        if len(hashes) > MAX_ITEMS_PER_PART:
            raise ValueError(f"a part holds {len(hashes)} stored items; at most {MAX_ITEMS_PER_PART} fit its marker")
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        self._dynamodb.put_item(TableName=self.table, Item={
            "pk": {"S": _user_pk(day, user_id)}, "sk": {"S": f"{_SENT}{part:05d}"},
            "part": {"N": str(part)}, "count": {"N": str(len(matches))}, "message_id": {"S": message_id},
            "sent_at": {"S": now}, "items": {"B": b"".join(hashes)}, "expires_at": {"N": _expiry(day)},
        })

    # -- one sender per (day, user) at a time -----------------------------------------------
    def claim(self, day: dt.date, user_id: int, owner: str, lease_s: int = 900) -> bool:
        """Take the (day, user) lease so two overlapping runs cannot both send; False if someone holds it."""
        now = int(time.time())
        try:
            self._dynamodb.put_item(
                TableName=self.table,
                Item={"pk": {"S": _user_pk(day, user_id)}, "sk": {"S": _LOCK}, "owner": {"S": owner},
                      "lease_until": {"N": str(now + lease_s)}, "expires_at": {"N": _expiry(day)}},
                ConditionExpression="attribute_not_exists(sk) OR lease_until < :now OR #o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":owner": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, day: dt.date, user_id: int, owner: str) -> None:
        try:
            self._dynamodb.delete_item(
                TableName=self.table, Key={"pk": {"S": _user_pk(day, user_id)}, "sk": {"S": _LOCK}},
                ConditionExpression="#o = :owner", ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
