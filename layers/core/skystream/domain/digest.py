"""The daily digest's stored matches and sent parts (kept by ``skystream.storage.digest``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Match:
    """One stored match: which filter produced it and the record (selected attributes + ``UTC``).

    ``sk`` is the key of the item holding it: a sent part always ends at an item boundary.
    """

    sk: str
    filter_id: str
    filter_name: str
    utc: str
    record: dict[str, Any]
    object_key: str = ""


@dataclass(frozen=True)
class SentPart:
    """A part of a day's digest that SES accepted, and the stored items (key hashes) it held."""

    part: int
    count: int
    message_id: str
    sent_at: str
    items: frozenset[bytes]
