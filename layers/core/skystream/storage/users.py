"""Users and their API tokens in the users table.

Items: ``pk="user#<id>"`` holds the user; ``pk="token#<sha256 hex>"`` maps a token's
hash to its user id (the token itself is shown once and never stored);
``pk="counter#user_id"`` hands out the numeric ids that appear in topic names;
``pk="authfail#<source>#<window start>"`` counts the wrong tokens one source (an IP address)
sent in one window (``failures``), and expires by the table's TTL (``expires_at``) soon after.
A user holding Kafka credentials has ``kafka_username`` on its item (never the password, which
only the cluster's credential store keeps): those users are the principals ACLs are made for.
The counter lives in DynamoDB, not in memory, because every Lambda container answers
requests: a guesser spread over many containers still meets one count.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from skystream.aws import client
from skystream.config import settings
from skystream.domain.users import API_TIERS, ApiTier, User
from skystream.storage.bulk import batch_get, paged_items

_COUNTER = "counter#user_id"
_TOKEN = "token#"
_FAILURES = "authfail#"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    def __init__(self, table: str | None = None):
        self.table = table or settings().users_table
        self._db = client("dynamodb")

    def _next_id(self) -> int:
        out = self._db.update_item(
            TableName=self.table,
            Key={"pk": {"S": _COUNTER}},
            UpdateExpression="ADD next_id :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["next_id"]["N"])

    def add(self, name: str, email: str, is_admin: bool = False, api_tier: ApiTier = "user") -> tuple[User, str]:
        """Create a user and its first token. The token is returned once; only its hash is kept."""
        user = User(user_id=self._next_id(), name=name, email=email, is_admin=is_admin,
                    api_tier=_checked_tier(api_tier))
        self._db.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"user#{user.user_id}"},
                "user_id": {"N": str(user.user_id)},
                "name": {"S": name},
                "email": {"S": email},
                "is_admin": {"BOOL": is_admin},
                "api_tier": {"S": user.api_tier},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return user, self.new_token(user.user_id)

    def new_token(self, user_id: int) -> str:
        token = secrets.token_urlsafe(32)
        self._db.put_item(
            TableName=self.table,
            Item={"pk": {"S": _TOKEN + token_hash(token)}, "user_id": {"N": str(user_id)}},
        )
        return token

    def set_tier(self, user_id: int, api_tier: ApiTier) -> User:
        """Put a user in a Lasair API tier (hourly calls, query row cap); raises KeyError for no such user."""
        try:
            out = self._db.update_item(
                TableName=self.table, Key={"pk": {"S": f"user#{int(user_id)}"}},
                UpdateExpression="SET api_tier = :tier", ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":tier": {"S": _checked_tier(api_tier)}}, ReturnValues="ALL_NEW",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            raise KeyError(f"no user {user_id}") from None
        return _user(out["Attributes"])

    def get(self, user_id: int) -> User | None:
        item = self._db.get_item(TableName=self.table, Key={"pk": {"S": f"user#{user_id}"}}).get("Item")
        return _user(item) if item else None

    def by_token(self, token: str) -> User | None:
        if not token:
            return None
        item = self._db.get_item(TableName=self.table, Key={"pk": {"S": _TOKEN + token_hash(token)}}).get("Item")
        return self.get(int(item["user_id"]["N"])) if item else None

    def by_token_counting(self, token: str, source: str, window: int) -> tuple[User | None, int]:
        """The token's user (None if no user holds it) and the wrong tokens ``source`` sent in ``window``.

        One BatchGetItem reads both, so checking the count costs no extra round trip.
        """
        token_key, failures_key = _TOKEN + token_hash(token), _failures_key(source, window)
        items = {item["pk"]: item for item in batch_get(self.table, [{"pk": token_key}, {"pk": failures_key}])}
        failures = int(items.get(failures_key, {}).get("failures", 0))
        holder = items.get(token_key)
        return (self.get(int(holder["user_id"])) if holder else None), failures

    def count_failure(self, source: str, window: int, expires_at: int) -> int:
        """Count one wrong token from ``source`` in ``window``; returns the window's count so far (atomic ADD)."""
        out = self._db.update_item(
            TableName=self.table,
            Key={"pk": {"S": _failures_key(source, window)}},
            UpdateExpression="ADD failures :one SET expires_at = :expires",
            ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str(int(expires_at))}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["failures"]["N"])

    def revoke_tokens(self, user_id: int) -> int:
        """Delete every token of ``user_id`` (a leaked key stops working at once); returns how many.

        Tokens are keyed by their hash alone, so they are found by a scan: an administrator's
        rare command over a table of users, not a request path.
        """
        revoked = 0
        tokens = paged_items(
            self._db, "scan",
            TableName=self.table,
            FilterExpression="begins_with(pk, :token) AND user_id = :user",
            ExpressionAttributeValues={":token": {"S": _TOKEN}, ":user": {"N": str(int(user_id))}},
            ProjectionExpression="pk",
            ConsistentRead=True,
        )
        for item in tokens:
            self._db.delete_item(TableName=self.table, Key={"pk": item["pk"]})
            revoked += 1
        return revoked

    def revoke_token(self, user_id: int, token: str) -> bool:
        """Delete one token of ``user_id``; False when that user holds no such token."""
        try:
            self._db.delete_item(
                TableName=self.table,
                Key={"pk": {"S": _TOKEN + token_hash(token)}},
                ConditionExpression="user_id = :user",
                ExpressionAttributeValues={":user": {"N": str(int(user_id))}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True


    # -- who holds Kafka credentials (skystream.ports.StreamReaders) ------------------------------

    def add_reader(self, user_id: int, username: str) -> None:
        self._db.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"user#{int(user_id)}"}},
            UpdateExpression="SET kafka_username = :u",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":u": {"S": username}},
        )

    def remove_reader(self, user_id: int) -> bool:
        """Forget that ``user_id`` holds Kafka credentials; False when it did not."""
        try:
            self._db.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"user#{int(user_id)}"}},
                UpdateExpression="REMOVE kafka_username",
                ConditionExpression="attribute_exists(kafka_username)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def is_reader(self, user_id: int) -> bool:
        item = self._db.get_item(TableName=self.table, Key={"pk": {"S": f"user#{int(user_id)}"}},
                                 ProjectionExpression="kafka_username", ConsistentRead=True).get("Item")
        return bool(item and "kafka_username" in item)

    def readers(self) -> list[int]:
        """Every user holding Kafka credentials (a scan: users are thousands, not millions)."""
        items = paged_items(
            self._db, "scan",
            TableName=self.table,
            FilterExpression="begins_with(pk, :user) AND attribute_exists(kafka_username)",
            ExpressionAttributeValues={":user": {"S": "user#"}},
            ProjectionExpression="user_id",
            ConsistentRead=True,
        )
        return sorted(int(item["user_id"]["N"]) for item in items)


def _failures_key(source: str, window: int) -> str:
    return f"{_FAILURES}{source}#{int(window)}"


def _user(item: dict[str, Any]) -> User:
    return User(
        user_id=int(item["user_id"]["N"]),
        name=item["name"]["S"],
        email=item["email"]["S"],
        is_admin=item.get("is_admin", {}).get("BOOL", False),
        api_tier=item.get("api_tier", {}).get("S", "user"),  # users made before the tiers are "user"
    )


def _checked_tier(tier: str) -> ApiTier:
    if tier not in API_TIERS:
        raise ValueError(f"unknown API tier {tier!r}; use one of {', '.join(API_TIERS)}")
    return tier  # type: ignore[return-value]
