"""Users and their API tokens in the users table.

Items: ``pk="user#<id>"`` holds the user; ``pk="token#<sha256 hex>"`` maps a token's
hash to its user id (the token itself is shown once and never stored);
``pk="counter#user_id"`` hands out the numeric ids that appear in topic names.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from skystream.config import settings
from skystream.storage.aws import client

_COUNTER = "counter#user_id"


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    email: str
    is_admin: bool = False


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

    def add(self, name: str, email: str, is_admin: bool = False) -> tuple[User, str]:
        """Create a user and its first token. The token is returned once; only its hash is kept."""
        user = User(user_id=self._next_id(), name=name, email=email, is_admin=is_admin)
        self._db.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"user#{user.user_id}"},
                "user_id": {"N": str(user.user_id)},
                "name": {"S": name},
                "email": {"S": email},
                "is_admin": {"BOOL": is_admin},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return user, self.new_token(user.user_id)

    def new_token(self, user_id: int) -> str:
        token = secrets.token_urlsafe(32)
        self._db.put_item(
            TableName=self.table,
            Item={"pk": {"S": f"token#{token_hash(token)}"}, "user_id": {"N": str(user_id)}},
        )
        return token

    def get(self, user_id: int) -> User | None:
        item = self._db.get_item(TableName=self.table, Key={"pk": {"S": f"user#{user_id}"}}).get("Item")
        return _user(item) if item else None

    def by_token(self, token: str) -> User | None:
        if not token:
            return None
        item = self._db.get_item(TableName=self.table, Key={"pk": {"S": f"token#{token_hash(token)}"}}).get("Item")
        return self.get(int(item["user_id"]["N"])) if item else None


def _user(item: dict[str, Any]) -> User:
    return User(
        user_id=int(item["user_id"]["N"]),
        name=item["name"]["S"],
        email=item["email"]["S"],
        is_admin=item.get("is_admin", {}).get("BOOL", False),
    )
