"""The annotator registry: a name, the user who owns it, and whether it is active.

Annotators live in the users table beside the users and tokens they belong to
(``pk="annotator#<name>"``): the registry is tiny, read on every upload by key, and the
API function already holds that table, so no new table or permission is needed.
Only the owner may upload under an annotator's name, and only while it is active.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from skystream.aws import resource
from skystream.config import settings
from skystream.domain.annotations import Annotator
from skystream.domain.errors import AnnotatorError, AnnotatorTaken, UnknownAnnotator
from skystream.filters.schema import NOT_BUILT, SYNONYMS, TABLES
from skystream.storage.bulk import paged_items

PREFIX = "annotator#"
# The name becomes a table alias in filters (``annotator:NAME`` joins ``annotations AS NAME``).
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Every table a filter can name (objects_ext too), and Lasair's watchlist/area tables (not built here, kept free).
RESERVED = frozenset(TABLES) | frozenset(SYNONYMS) | frozenset(NOT_BUILT)




def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):  # fullmatch: '$' alone lets a trailing newline through
        raise AnnotatorError(
            f"annotator name {name!r} is not usable in SQL: use a letter, then letters, digits or _ (at most 64)"
        )
    if name.lower() in RESERVED:
        raise AnnotatorError(f"annotator name {name!r} is a table name; choose another")
    return name


def _annotator(item: dict[str, Any]) -> Annotator:
    return Annotator(
        name=item["name"],
        owner=int(item["owner"]),
        active=bool(item.get("active", True)),
        description=item.get("description", ""),
        created=item.get("created", ""),
    )


class AnnotatorRegistry:
    def __init__(self, table_name: str | None = None):
        self.table_name = table_name or settings().users_table

    @property
    def _table(self) -> Any:
        return resource("dynamodb").Table(self.table_name)

    def add(self, name: str, owner: int, description: str = "", active: bool = True) -> Annotator:
        """Register a new annotator; refuses a name already taken (names are global, like SQL aliases)."""
        annotator = Annotator(
            name=check_name(name), owner=int(owner), active=active, description=description,
            created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        )
        try:
            self._table.put_item(
                Item={"pk": PREFIX + name, "name": name, "owner": annotator.owner, "active": active,
                      "description": description, "created": annotator.created},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise AnnotatorTaken(f"annotator {name!r} already exists; pick another name") from exc
            raise
        return annotator

    def get(self, name: str) -> Annotator | None:
        if not NAME_PATTERN.fullmatch(name or ""):
            return None
        item = self._table.get_item(Key={"pk": PREFIX + name}, ConsistentRead=True).get("Item")
        return _annotator(item) if item else None

    def set_active(self, name: str, active: bool) -> Annotator:
        """Activate or deactivate; an inactive annotator's uploads are refused."""
        try:
            out = self._table.update_item(
                Key={"pk": PREFIX + name},
                UpdateExpression="SET active = :a",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":a": active},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise UnknownAnnotator(f"no annotator {name!r}; register it with `skystream annotators add`") from exc
            raise
        return _annotator(out["Attributes"])

    def all(self) -> list[Annotator]:
        """Every annotator, by name (a scan of the small users table, for admins)."""
        items = paged_items(self._table.meta.client, "scan", TableName=self.table_name,
                            FilterExpression=Attr("pk").begins_with(PREFIX))
        return sorted((_annotator(item) for item in items), key=lambda a: a.name)
