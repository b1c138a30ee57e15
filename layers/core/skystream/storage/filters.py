"""Users' filters in the filters table, with optimistic versions and a "filters changed" counter.

Item kinds, all keyed by ``filter_id``:
- a filter: its :class:`StoredFilter` fields (``owner`` feeds the ``by-owner`` index);
- ``topic#<name>`` with ``claimed_by``: the Kafka topic a filter writes to, so two
  filters can never share one (checked atomically with the filter's write). ``<name>`` is the
  topic's :func:`~skystream.outputs.topics.collision_key` (``.`` written as ``_``), so two names
  Kafka would treat as colliding claim the same item;
- ``meta#filters_changed`` with ``version``: bumped by every write, so matchers can
  keep the active list in memory and re-read it only when the counter moved.

A filter item also carries what the matcher writes about it (``skystream.services.suspension``):
``consecutive_failures`` (an atomic counter, written only when a batch fails it or when a
success follows failures) and ``suspended`` (reason, time, count). Both are conditional on
the filter's ``version``, so nothing about an old version lands on a newer one; neither
changes ``version``, so the owner's next save is not refused as stale, and a save (a
whole-item put) clears both. A suspended filter is not in :meth:`FilterStore.active`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from skystream.aws import client
from skystream.config import settings
from skystream.domain.errors import NotFound, StaleVersion, TopicClash
from skystream.domain.filters import StoredFilter, Suspension, Trigger
from skystream.outputs.topics import collision_key
from skystream.storage.bulk import paged_items

TOPIC_PREFIX = "topic#"
META_PREFIX = "meta#"
CHANGED_KEY = f"{META_PREFIX}filters_changed"
# How long a process trusts its cached active list before re-reading the "filters changed" counter
# (one strongly consistent GetItem). 0: check on every batch, so a saved filter applies to the next
# batch the matcher takes; the full list is only re-read when the counter moved.
REFRESH_S = 0.0

_ser = TypeSerializer()
_deser = TypeDeserializer()


def _claim_key(topic: str) -> str:
    return TOPIC_PREFIX + collision_key(topic)


def _to_item(f: StoredFilter) -> dict[str, Any]:
    data = f.model_dump()
    return {k: _ser.serialize(v) for k, v in data.items() if v is not None}


def _from_item(item: dict[str, Any]) -> StoredFilter:
    return StoredFilter.model_validate({k: _deser.deserialize(v) for k, v in item.items()})


def _is_filter(item: dict[str, Any]) -> bool:
    key = item["filter_id"]["S"]
    return not (key.startswith(TOPIC_PREFIX) or key.startswith(META_PREFIX))


@dataclass
class _ActiveCache:
    version: str | None
    checked_at: float
    filters: list[StoredFilter]


# One cache per table per process: a Lambda container keeps it between invocations.
_ACTIVE: dict[tuple[str, str], _ActiveCache] = {}


class FilterStore:
    def __init__(self, table: str | None = None, refresh_s: float = REFRESH_S):
        self.table = table or settings().filters_table
        self.refresh_s = refresh_s
        self._db = client("dynamodb")

    # -- writes ---------------------------------------------------------------------------------

    def put(
        self,
        f: StoredFilter,
        *,
        expected_version: int | None = None,
        previous_topic: str | None = None,
    ) -> StoredFilter:
        """Create (``expected_version`` None) or replace a filter, claiming its topic, in one transaction.

        Raises :class:`StaleVersion` when the stored version is not ``expected_version`` (or the
        filter vanished), :class:`TopicClash` when another filter holds ``f.topic``.
        """
        fid = f.filter_id
        if expected_version is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(filter_id)"}
        else:
            condition = {
                "ConditionExpression": "#v = :expected",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        actions: list[dict[str, Any]] = [{"Put": {"TableName": self.table, "Item": _to_item(f), **condition}}]
        names: list[str] = ["filter"]
        if f.topic:
            actions.append({"Put": {
                "TableName": self.table,
                "Item": {"filter_id": {"S": _claim_key(f.topic)}, "claimed_by": {"S": fid}},
                "ConditionExpression": "attribute_not_exists(filter_id) OR claimed_by = :fid",
                "ExpressionAttributeValues": {":fid": {"S": fid}},
            }})
            names.append("topic")
        if previous_topic and _claim_key(previous_topic) != _claim_key(f.topic or ""):
            actions.append({"Delete": {
                "TableName": self.table,
                "Key": {"filter_id": {"S": _claim_key(previous_topic)}},
                "ConditionExpression": "attribute_not_exists(filter_id) OR claimed_by = :fid",
                "ExpressionAttributeValues": {":fid": {"S": fid}},
            }})
            names.append("old_topic")
        actions.append(self._bump())
        names.append("changed")
        failed = self._transact(actions)
        if failed is None:
            return f
        reasons = {names[i] for i in failed}
        if "topic" in reasons:
            raise self._clash(f)
        if expected_version is None:  # a new id that exists already: vanishingly rare, never silent
            raise StaleVersion(f"filter id {f.filter_id} is already taken; send the request again")
        current = self.get(f.filter_id)
        raise StaleVersion(
            f"filter {f.filter_id} was changed since version {expected_version}"
            + (f" (it is now at version {current.version})" if current else " (it no longer exists)")
            + "; read it again and re-apply your change",
            current_version=current.version if current else None,
        )

    # -- what the matcher writes about a filter ------------------------------------------------

    def add_failure(self, f: StoredFilter) -> int:
        """Count one more failing batch of this version of ``f``; returns the new count
        (0 when the filter was changed or deleted meanwhile: nothing is counted then)."""
        try:
            out = self._db.update_item(
                TableName=self.table,
                Key={"filter_id": {"S": f.filter_id}},
                UpdateExpression="ADD consecutive_failures :one",
                ConditionExpression="attribute_exists(filter_id) AND #v = :v",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":v": {"N": str(f.version)}},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return 0
        return int(out["Attributes"]["consecutive_failures"]["N"])

    def clear_failures(self, f: StoredFilter) -> None:
        """Back to zero after a success (only if counting: the common case writes nothing)."""
        try:
            self._db.update_item(
                TableName=self.table,
                Key={"filter_id": {"S": f.filter_id}},
                UpdateExpression="SET consecutive_failures = :zero",
                ConditionExpression="attribute_exists(filter_id) AND #v = :v AND consecutive_failures > :zero",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":zero": {"N": "0"}, ":v": {"N": str(f.version)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def suspend(self, f: StoredFilter, suspension: Suspension) -> bool:
        """Mark this version of ``f`` suspended; True only for the one call that did it (so its
        owner is told once however many matchers race). Every matcher re-reads its active list."""
        failed = self._transact([
            {"Update": {
                "TableName": self.table,
                "Key": {"filter_id": {"S": f.filter_id}},
                "UpdateExpression": "SET suspended = :s",
                "ConditionExpression": "attribute_exists(filter_id) AND #v = :v AND attribute_not_exists(suspended)",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":s": _ser.serialize(suspension.model_dump()),
                                              ":v": {"N": str(f.version)}},
            }},
            self._bump(),
        ])
        for cached in _ACTIVE.values():
            cached.filters = [c for c in cached.filters if c.filter_id != f.filter_id]
        return failed is None

    def delete(self, f: StoredFilter) -> None:
        """Remove a filter and release its topic name (if it still holds it)."""
        actions: list[dict[str, Any]] = [{"Delete": {
            "TableName": self.table,
            "Key": {"filter_id": {"S": f.filter_id}},
            "ConditionExpression": "attribute_exists(filter_id)",
        }}]
        if f.topic and self._claimant(f.topic) == f.filter_id:
            actions.append({"Delete": {
                "TableName": self.table,
                "Key": {"filter_id": {"S": _claim_key(f.topic)}},
                "ConditionExpression": "claimed_by = :fid",
                "ExpressionAttributeValues": {":fid": {"S": f.filter_id}},
            }})
        actions.append(self._bump())
        failed = self._transact(actions)
        if failed is not None:
            raise NotFound(f"filter {f.filter_id} does not exist (it may have just been deleted)")

    def _claimant(self, topic: str) -> str | None:
        item = self._db.get_item(
            TableName=self.table, Key={"filter_id": {"S": _claim_key(topic)}}, ConsistentRead=True
        ).get("Item")
        return item["claimed_by"]["S"] if item else None

    def _clash(self, f: StoredFilter) -> TopicClash:
        """409 naming the filter that holds the topic: by id and name when it is the same user's."""
        holder_id = self._claimant(f.topic or "")
        holder = self.get(holder_id) if holder_id else None
        if holder is not None and holder.owner == f.owner:
            same = holder.topic == f.topic
            return TopicClash(
                f"your filter {holder.filter_id} ({holder.name!r}) already writes to topic {holder.topic}"
                + ("" if same else f", which Kafka treats as the same topic as {f.topic} ('.' and '_' collide)")
                + "; choose a different name (the topic is derived from it)",
                topic=f.topic, other_filter=holder.filter_id, other_topic=holder.topic,
            )
        return TopicClash(
            f"the Kafka topic {f.topic} (or one Kafka treats as the same: '.' and '_' collide) is already used "
            "by another filter; choose a different name (the topic is derived from it)",
            topic=f.topic,
        )

    def _bump(self) -> dict[str, Any]:
        return {"Update": {
            "TableName": self.table,
            "Key": {"filter_id": {"S": CHANGED_KEY}},
            "UpdateExpression": "ADD #v :one SET stamp = :stamp",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":stamp": {"S": uuid.uuid4().hex}},
        }}

    def _transact(self, actions: list[dict[str, Any]]) -> set[int] | None:
        """Run the transaction; None when it committed, else the indexes of the failed conditions."""
        try:
            self._db.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            return {i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}
        return None

    # -- reads ----------------------------------------------------------------------------------

    def get(self, filter_id: str) -> StoredFilter | None:
        if filter_id.startswith((TOPIC_PREFIX, META_PREFIX)) or not filter_id:
            return None
        item = self._db.get_item(
            TableName=self.table, Key={"filter_id": {"S": filter_id}}, ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def list_for(self, owner: int) -> list[StoredFilter]:
        """A user's filters, by name."""
        items = self._paginate(
            "query",
            TableName=self.table,
            IndexName="by-owner",
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"N": str(int(owner))}},
        )
        return sorted((_from_item(i) for i in items if _is_filter(i)), key=lambda f: (f.name, f.filter_id))

    def list_public(self) -> list[StoredFilter]:
        items = self._paginate(
            "scan",
            TableName=self.table,
            FilterExpression="#p = :t",
            ExpressionAttributeNames={"#p": "public"},
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )
        return sorted((_from_item(i) for i in items if _is_filter(i)), key=lambda f: (f.name, f.filter_id))

    def list_all(self) -> list[StoredFilter]:
        """Every filter (a scan: for the ACL plan, an administrator's command, not a request path)."""
        items = self._paginate("scan", TableName=self.table, ConsistentRead=True)
        return sorted((_from_item(i) for i in items if _is_filter(i)), key=lambda f: (f.owner, f.name, f.filter_id))

    def changed_version(self) -> int:
        """How many writes the filters table has seen (for people; caches compare :meth:`_changed_stamp`)."""
        item = self._changed_item()
        return int(item["version"]["N"]) if item else 0

    def _changed_item(self) -> dict[str, Any] | None:
        return self._db.get_item(
            TableName=self.table, Key={"filter_id": {"S": CHANGED_KEY}}, ConsistentRead=True
        ).get("Item")

    def _changed_stamp(self) -> str | None:
        """A random value every write replaces: unlike the counter, it never repeats after a table is recreated."""
        item = self._changed_item()
        return item["stamp"]["S"] if item and "stamp" in item else None

    def active(self, trigger: Trigger) -> list[StoredFilter]:
        """Filters that run on ``trigger`` (not suspended). Cached per process; re-read within
        ``refresh_s`` of a change."""
        key = (self.table, trigger)
        cached = _ACTIVE.get(key)
        now = time.monotonic()
        if cached is not None and now - cached.checked_at < self.refresh_s:
            return cached.filters
        version = self._changed_stamp()
        if cached is not None and cached.version == version:
            cached.checked_at = now
            return cached.filters
        attribute = "on_alert" if trigger == "alert" else "on_annotation"
        items = self._paginate(
            "scan",
            TableName=self.table,
            FilterExpression="#a = :t AND attribute_not_exists(suspended)",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":t": {"BOOL": True}},
            ConsistentRead=True,
        )
        filters = [_from_item(i) for i in items if _is_filter(i)]
        _ACTIVE[key] = _ActiveCache(version=version, checked_at=now, filters=filters)
        return filters

    def _paginate(self, operation: Literal["query", "scan"], **kwargs: Any) -> Iterable[dict[str, Any]]:
        return paged_items(self._db, operation, **kwargs)


def forget_active_cache() -> None:
    """Drop every process-level cache of active filters (tests, or after pointing at another table)."""
    _ACTIVE.clear()
