"""The last records of a filter's topic, page by page: what the web page's stream view shows.

Who may look: the same rule as reading the filter (``GET /filters/{id}``), which is the rule for
consuming its topic: the owner for a private filter, any signed-in user for a public one;
another user's private filter is not found (404). A filter without a Kafka output has no topic
(400, saying so). Reading joins no consumer group and commits nothing (``streams.tail``), so
looking never moves anyone's position in the topic.

Records are shown as their consumers receive them: the value parsed as JSON (records are JSON;
one that is not is shown as text), the key and headers as text, the broker's timestamp in UTC.
Paging goes back in time: ``next_before`` is the cursor of the next, older page
(``partition:offset`` pairs, comma-separated), None when nothing older is left.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from skystream.domain.errors import BadRequest
from skystream.domain.records import KafkaRecord
from skystream.domain.users import User
from skystream.outputs.formats import clean
from skystream.ports import FilterRepository, TopicTail
from skystream.services.filters import visible_filter

DEFAULT_PAGE = 20
MAX_PAGE = 100
CURSOR_HELP = ("give back the next_before of the previous page, e.g. 0:120 "
               "(partition:offset pairs, comma-separated), or leave it out for the newest records")


@dataclass(frozen=True)
class ShownRecord:
    partition: int
    offset: int
    timestamp: str | None  # ISO 8601 UTC, None when the broker gave none
    key: str | None
    headers: dict[str, str]
    value: Any  # the parsed JSON record, or its text when it is not JSON
    size: int  # bytes of the value as stored


@dataclass(frozen=True)
class RecordsPage:
    filter_id: str
    topic: str
    records: list[ShownRecord]
    next_before: str | None
    message: str
    complete: bool


class FilterRecords:
    """``page(user, filter_id, limit=, before=)``. ``store`` holds the filters, ``tail`` reads topics."""

    def __init__(self, store: FilterRepository, tail: TopicTail):
        self.store = store
        self.tail = tail

    def page(self, user: User, filter_id: str, *, limit: int = DEFAULT_PAGE, before: str | None = None) -> RecordsPage:
        f = visible_filter(self.store, user, filter_id)
        if not f.topic:
            raise BadRequest(f"filter {filter_id} has output {f.output}, so it has no Kafka topic to show; "
                             "change its output to kafka_plain, kafka_lite or kafka_full to get one")
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit {limit} is outside 1..{MAX_PAGE}")
        cursor = parse_cursor(before)
        page = self.tail.tail(f.topic, limit=limit, before=cursor)
        records = [_shown(r) for r in page.records]
        if not page.exists:
            message = (f"topic {f.topic} does not exist on the Kafka cluster; saving the filter again "
                       "creates it and reseeds it from recent objects")
        elif records:
            message = (f"{len(records)} record(s) of topic {f.topic}, newest first"
                       + ("" if page.next_before else "; no older records"))
        elif cursor:
            message = f"no older records in topic {f.topic}"
        else:
            message = (f"topic {f.topic} has no records yet: the filter has matched nothing since it was saved "
                       "(saving empties the topic, then puts in up to 10 matches among recent objects)")
        if not page.complete:
            message += "; the cluster was slow to answer, so some records of this page may be missing: reload"
        return RecordsPage(filter_id=f.filter_id, topic=f.topic, records=records,
                           next_before=format_cursor(page.next_before), message=message, complete=page.complete)


def parse_cursor(text: str | None) -> dict[int, int] | None:
    """``"0:120,1:7"`` -> ``{0: 120, 1: 7}``; None or empty -> None (the newest page)."""
    if not text or not text.strip():
        return None
    cursor: dict[int, int] = {}
    for item in text.split(","):
        partition, sep, offset = item.strip().partition(":")
        if not (sep and partition.isdigit() and offset.isdigit()) or len(partition) > 9 or len(offset) > 19:
            raise BadRequest(f"before={text[:60]!r} is not a cursor: {CURSOR_HELP}")
        cursor[int(partition)] = int(offset)
    return cursor


def format_cursor(cursor: dict[int, int] | None) -> str | None:
    return ",".join(f"{p}:{o}" for p, o in sorted(cursor.items())) if cursor else None


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")


def _shown(record: KafkaRecord) -> ShownRecord:
    try:
        value: Any = clean(json.loads(record.value))  # a NaN written by another producer: null, as JSON has no NaN
    except ValueError:  # not JSON (or not UTF-8): show the text, with U+FFFD for bytes that are not UTF-8
        value = _text(record.value)
    stamp = (dt.datetime.fromtimestamp(record.timestamp_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")
             if record.timestamp_ms > 0 else None)
    return ShownRecord(partition=record.partition, offset=record.offset, timestamp=stamp, key=_text(record.key),
                       headers={k: _text(v) or "" for k, v in record.headers.items()}, value=value,
                       size=len(record.value))
