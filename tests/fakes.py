"""Every fake of the tests, in one place: one in-memory fake per port of ``skystream.ports`` (and of the
Kafka client the producer wrapper and the relay drive), plus builders that wire a real service with them.

Unit tests construct services with these explicitly (``skystream.wiring`` is for the real
adapters); integration tests use the real broker and endpoint and need only the handler fake.
``tests/conftest.py`` puts this directory on ``sys.path``, so ``from fakes import ...`` works
from ``tests/unit`` and ``tests/integration`` alike.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import confluent_kafka
from confluent_kafka import KafkaError, KafkaException

from skystream.domain.annotations import AnnotationEvent, AnnotationRecord, Annotator
from skystream.domain.digest import Match, SentPart
from skystream.domain.filters import StoredFilter, Suspension
from skystream.domain.matches import MatchReport
from skystream.domain.objects import AlertPointer, AlertToArchive, HistoryFile, ObjectContext, StoredObject
from skystream.domain.records import KafkaRecord, TopicPage
from skystream.domain.sky import PixelRange, SkyPoint, SkyScan, is_position, sky_attributes
from skystream.domain.stream_access import AclBinding, AclPlan, Scope
from skystream.domain.watchlists import Source, Watchlist
from skystream.domain.watchmaps import Moc, Watchmap
from skystream.filters.engine import FilterEngine, SqliteEngine
from skystream.history.parquet import read_parquet, write_parquet
from skystream.history.schema import HISTORY_TABLES
from skystream.outputs.base import Outputs
from skystream.outputs.email import EmailOutput
from skystream.outputs.kafka import KafkaOutput
from skystream.ports import (
    AclAdmin,
    ActiveFilters,
    AnnotationReader,
    ArchiveWriter,
    ContextReader,
    ContextWriter,
    DigestOutbox,
    DigestSink,
    EventPublisher,
    FailureCounts,
    FilterHealth,
    FilterRunner,
    FullAlertSource,
    HistoryStore,
    Mailer,
    ObjectReader,
    ObjectWriter,
    QuotaCounter,
    RateCounter,
    RecordProducer,
    ScramUsers,
    SkyIndexReader,
    StreamReaders,
    TopicAccess,
    Topics,
    TopicTail,
)
from skystream.services.joins import Joins
from skystream.services.matching import Matcher
from skystream.services.watchlists import WatchlistMatcher
from skystream.services.watchmaps import WatchmapMatcher
from skystream.storage.archive import pack_alerts, unpack_member
from skystream.streams.lambda_event import records_from_event
from skystream.streams.producer import ProduceError

# -- Kafka ---------------------------------------------------------------------------------------


class RecordingProducer(RecordProducer):
    """The producer port, keeping what was sent in order: ``sent`` holds (topic, value, key, headers)
    as given, ``times`` when each was produced (``time.monotonic``)."""

    def __init__(self, limit: int = 4_000_000, fail_flush: bool = False,
                 on_produce: Callable[[str, Mapping[str, bytes | str]], None] | None = None):
        self.limit = limit
        self.fail_flush = fail_flush
        self.on_produce = on_produce
        self.sent: list[tuple[str, bytes, Any, dict[str, Any]]] = []
        self.times: list[float] = []
        self.flushes = 0

    def fits(self, value: bytes, key: bytes | None = None) -> bool:
        return len(value) + len(key or b"") <= self.limit

    def produce(self, topic: str, value: bytes, key: bytes | str | None = None,
                headers: Mapping[str, bytes | str] | None = None) -> bool:
        if not self.fits(value, key.encode() if isinstance(key, str) else key):
            return False
        self.sent.append((topic, value, key, dict(headers or {})))
        self.times.append(time.monotonic())
        if self.on_produce is not None:
            self.on_produce(topic, headers or {})
        return True

    def flush(self, timeout: float = 30.0) -> int:
        self.flushes += 1
        if self.fail_flush:
            raise ProduceError("1 record(s) failed, 0 unacknowledged: broker down")
        return len(self.sent)

    def topic(self, name: str) -> list[tuple[str, bytes, Any, dict[str, Any]]]:
        return [s for s in self.sent if s[0] == name]


def records(values: list[bytes], topic: str = "alerts") -> list[KafkaRecord]:
    """One partition's records at offsets 0, 1, ... keyed k0, k1, ..."""
    return [KafkaRecord(topic, 0, i, v, key=b"k%d" % i) for i, v in enumerate(values)]


class RecordingTopics(Topics):
    """The topics port: which topics exist, and every create and delete in order."""

    def __init__(self) -> None:
        self.topics: set[str] = set()
        self.log: list[tuple[str, str]] = []

    def create(self, topics: Sequence[str], *, partitions: int = 1, retention_ms: int | None = None) -> None:
        assert retention_ms == 7 * 24 * 3600 * 1000
        for t in topics:
            self.topics.add(t)
            self.log.append(("create", t))

    def delete(self, topics: Sequence[str], *, missing_ok: bool = True) -> None:
        for t in topics:
            self.topics.discard(t)
            self.log.append(("delete", t))


class RecordingAccess(TopicAccess):
    """The topic-access port: each grant (by topic) and revoke in order, in ``log``; pass a
    :class:`RecordingTopics`' log to see both in one sequence (ACLs before a topic exists, after it is gone)."""

    def __init__(self, log: list[tuple[str, str]] | None = None) -> None:
        self.log: list[tuple[str, str]] = log if log is not None else []
        self.granted: list[StoredFilter] = []

    def grant(self, f: StoredFilter) -> None:
        self.granted.append(f)
        self.log.append(("grant", str(f.topic)))

    def revoke(self, topic: str) -> None:
        self.log.append(("revoke", topic))


class MemoryAcls(AclAdmin):
    """The cluster's ACLs in a set; ``plans`` holds every plan applied, in order."""

    def __init__(self, bindings: set[AclBinding] | None = None) -> None:
        self.current: set[AclBinding] = set(bindings or ())
        self.plans: list[AclPlan] = []

    def bindings(self, scope: Scope) -> set[AclBinding]:
        return {b for b in self.current if scope.covers(b)}

    def apply(self, plan: AclPlan) -> None:
        self.plans.append(plan)
        self.current |= set(plan.add)
        self.current -= set(plan.remove)


class MemoryScramUsers(ScramUsers):
    """The credential store: username -> password (plain here: it is a test's)."""

    def __init__(self, log: list[tuple[str, str]] | None = None) -> None:
        self.passwords: dict[str, str] = {}
        self.log: list[tuple[str, str]] = log if log is not None else []

    def set_password(self, username: str, password: str) -> None:
        self.passwords[username] = password
        self.log.append(("set_password", username))

    def remove(self, username: str) -> bool:
        self.log.append(("remove", username))
        return self.passwords.pop(username, None) is not None


class MemoryReaders(StreamReaders):
    def __init__(self, readers: Iterable[int] = ()) -> None:
        self.usernames: dict[int, str] = {r: f"user-{r}" for r in readers}

    def readers(self) -> list[int]:
        return sorted(self.usernames)

    def is_reader(self, user_id: int) -> bool:
        return user_id in self.usernames

    def add_reader(self, user_id: int, username: str) -> None:
        self.usernames[user_id] = username

    def remove_reader(self, user_id: int) -> bool:
        return self.usernames.pop(user_id, None) is not None


class MemoryCatalog:
    """The filter catalogue (``skystream.ports.FilterCatalog``) over a dict of filters by id."""

    def __init__(self, filters: Iterable[StoredFilter] = ()) -> None:
        self.filters: dict[str, StoredFilter] = {f.filter_id: f for f in filters}

    def list_for(self, owner: int) -> list[StoredFilter]:
        return [f for f in self.filters.values() if f.owner == owner]

    def list_public(self) -> list[StoredFilter]:
        return [f for f in self.filters.values() if f.public]

    def list_all(self) -> list[StoredFilter]:
        return list(self.filters.values())


class _Done:
    """A finished librdkafka future."""

    def __init__(self, value: Any = None, error: KafkaError | None = None) -> None:
        self.value, self.error = value, error

    def result(self, timeout: float | None = None) -> Any:
        if self.error is not None:
            raise KafkaException(self.error)
        return self.value


def _acl_matches(f: Any, b: Any) -> bool:
    """Kafka's ACL filter rules as far as the adapters use them (ANY, or equal; None: any name/principal/host)."""
    from confluent_kafka.admin import AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    return (f.restype in (ResourceType.ANY, b.restype) and f.name in (None, b.name)
            and f.resource_pattern_type in (ResourcePatternType.ANY, b.resource_pattern_type)
            and f.principal in (None, b.principal) and f.host in (None, b.host)
            and f.operation in (AclOperation.ANY, b.operation)
            and f.permission_type in (AclPermissionType.ANY, b.permission_type))


class RecordingAdminClient:
    """The librdkafka admin client as ``skystream.streams.acls`` and ``scram_users`` drive it, never a broker:
    each call is recorded in ``calls`` (name, argument); ACLs are kept in ``acls`` and filtered as Kafka would;
    ``fail`` makes every answer that error."""

    def __init__(self, acls: Iterable[Any] = (), fail: KafkaError | None = None) -> None:
        self.acls: list[Any] = list(acls)
        self.fail = fail
        self.calls: list[tuple[str, Any]] = []

    def describe_acls(self, acl_filter: Any, request_timeout: float | None = None) -> _Done:
        self.calls.append(("describe_acls", acl_filter))
        return _Done([b for b in self.acls if _acl_matches(acl_filter, b)], self.fail)

    def create_acls(self, bindings: list[Any], request_timeout: float | None = None) -> dict[Any, _Done]:
        self.calls.append(("create_acls", list(bindings)))
        if self.fail is None:
            self.acls.extend(b for b in bindings if b not in self.acls)
        return {b: _Done(None, self.fail) for b in bindings}

    def delete_acls(self, filters: list[Any], request_timeout: float | None = None) -> dict[Any, _Done]:
        self.calls.append(("delete_acls", list(filters)))
        answers = {}
        for f in filters:
            gone = [b for b in self.acls if _acl_matches(f, b)]
            if self.fail is None:
                self.acls = [b for b in self.acls if b not in gone]
            answers[f] = _Done(gone, self.fail)
        return answers

    def alter_user_scram_credentials(self, alterations: list[Any], request_timeout: float | None = None
                                     ) -> dict[str, _Done]:
        self.calls.append(("alter_user_scram_credentials", list(alterations)))
        return {a.user: _Done(None, self.fail) for a in alterations}


class MemoryTopicTail(TopicTail):
    """The topic-tail port over in-memory one-partition topics (``logs``: topic -> values, oldest first),
    paging as ``streams.tail.TopicReader`` does; every call is kept in ``calls``."""

    def __init__(self, logs: dict[str, list[KafkaRecord]] | None = None) -> None:
        self.logs = logs or {}
        self.calls: list[tuple[str, int, dict[int, int] | None]] = []

    def tail(self, topic: str, *, limit: int, before: Mapping[int, int] | None = None,
             max_bytes: int = 4_000_000) -> TopicPage:
        self.calls.append((topic, limit, dict(before) if before is not None else None))
        if topic not in self.logs:
            return TopicPage(topic, [], None, exists=False)
        log = self.logs[topic]
        end = before.get(0, len(log)) if before else len(log)
        shown = list(reversed(log[max(0, end - limit):end]))
        oldest = shown[-1].offset if shown else end
        return TopicPage(topic, shown, {0: oldest} if oldest > 0 else None)


class RecordingPublisher(EventPublisher):
    def __init__(self) -> None:
        self.events: list[AnnotationEvent] = []

    def publish(self, events: Sequence[AnnotationEvent]) -> None:
        self.events.extend(events)


class FakeKafkaMessage:
    """A consumed (or delivered) ``confluent_kafka.Message``."""

    def __init__(self, topic: str, partition: int = 0, offset: int = 0, value: bytes = b"", key: bytes | None = None,
                 headers: list[tuple[str, bytes]] | None = None, timestamp: int = 0):
        self._t, self._p, self._o = topic, partition, offset
        self._value, self._key, self._headers, self._ts = value, key, headers, timestamp

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        kind = confluent_kafka.TIMESTAMP_CREATE_TIME if self._ts else confluent_kafka.TIMESTAMP_NOT_AVAILABLE
        return kind, self._ts

    def error(self) -> None:
        return None


class FakeKafkaConsumer:
    """A ``confluent_kafka.Consumer`` handing out ``batches`` in order, recording commits."""

    def __init__(self, batches: list[list[FakeKafkaMessage]]):
        self.batches = list(batches)
        self.commits: list[list[tuple[str, int, int]]] = []
        self.closed = False

    def subscribe(self, topics: list[str], on_assign: Any = None) -> None:
        if on_assign:
            on_assign(self, [])

    def consume(self, num_messages: int, timeout: float) -> list[FakeKafkaMessage]:
        return self.batches.pop(0) if self.batches else []

    def commit(self, offsets: list[confluent_kafka.TopicPartition], asynchronous: bool) -> None:
        assert asynchronous is False
        self.commits.append([(o.topic, o.partition, o.offset) for o in offsets])

    def close(self) -> None:
        self.closed = True


class FakeKafkaClient:
    """A librdkafka producer client (``confluent_kafka.Producer``) as the producer wrapper and the relay use it.

    Deliveries are reported at ``flush``: with ``delivery_error`` for every record (None: delivered),
    or ``BROKER_NOT_AVAILABLE`` for a value in ``fail_on``; ``produce_error`` makes ``produce`` raise;
    ``flush`` returns ``unacknowledged`` and appends "flushed" to ``events``.
    """

    def __init__(self, conf: dict[str, Any] | None = None, *, fail_on: set[bytes] | None = None,
                 events: list[str] | None = None, delivery_error: KafkaError | None = None,
                 produce_error: KafkaError | None = None, unacknowledged: int = 0):
        self.conf = conf or {}
        self.fail_on = fail_on or set()
        self.events = events if events is not None else []
        self.delivery_error = delivery_error
        self.produce_error = produce_error
        self.unacknowledged = unacknowledged
        self.produced: list[dict[str, Any]] = []
        self.pending: list[tuple[Callable[[Any, Any], None], FakeKafkaMessage]] = []
        self.purged = False

    def produce(self, topic: str, **kwargs: Any) -> None:
        if self.produce_error is not None:
            raise KafkaException(self.produce_error)
        self.produced.append({"topic": topic, **kwargs})
        message = FakeKafkaMessage(topic, 0, len(self.produced), kwargs.get("value") or b"")
        self.pending.append((kwargs["on_delivery"], message))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        for callback, message in self.pending:
            error = self.delivery_error or ("BROKER_NOT_AVAILABLE" if message.value() in self.fail_on else None)
            callback(error, message)
        self.pending.clear()
        self.events.append("flushed")
        return self.unacknowledged

    def purge(self) -> None:
        self.purged = True


class RecordingHandler:
    """A function's handler: fails on its first ``failures`` calls, then records every (partition, offset,
    value) it is given."""

    def __init__(self, failures: int = 0):
        self.failures_left = failures
        self.calls = 0
        self.seen: list[tuple[int, int, bytes]] = []
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        with self.lock:
            self.calls += 1
            self.events.append(event)
            if self.failures_left > 0:
                self.failures_left -= 1
                raise RuntimeError("simulated failure")
            self.seen.extend((r.partition, r.offset, r.value) for r in records_from_event(event))


# -- counters ------------------------------------------------------------------------------------


class MemoryQuota(QuotaCounter):
    def __init__(self) -> None:
        self.counts: dict[tuple[str, dt.date], int] = {}

    def used(self, filter_id: str, day: dt.date) -> int:
        return self.counts.get((filter_id, day), 0)

    def add(self, filter_id: str, day: dt.date, nbytes: int) -> int:
        self.counts[(filter_id, day)] = self.used(filter_id, day) + nbytes
        return self.counts[(filter_id, day)]


class MemoryRates(RateCounter):
    WINDOW_S = 60

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.counts: dict[tuple[str, int, int], int] = {}

    def hit(self, what: str, user_id: int, window_s: int = WINDOW_S) -> tuple[int, float]:
        now = self.clock()
        key = (f"{what}/{window_s}", user_id, int(now // window_s))
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key], (key[2] + 1) * window_s - now


# -- objects and alerts --------------------------------------------------------------------------


class MemoryObjects(ObjectWriter, ObjectReader, SkyIndexReader):
    """The objects table without DynamoDB's limits: an item is the :class:`StoredObject` itself; the
    newest alert wins (by ``lastDiaSourceMjdTai``, then diaSourceId); ``fail`` makes every write raise it;
    ``writes`` logs the ids of each ``put_newest`` call. Its sky index is each object's pixel computed as the
    real item builder does (``skystream.domain.sky``)."""

    def __init__(self, fail: Exception | None = None):
        self.stored: dict[int, StoredObject] = {}
        self.fail = fail
        self.writes: list[list[int]] = []

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]], lite: Mapping[str, Any] | None = None,
           schema_version: str = "") -> MemoryObjects:
        objects = cls()
        for row in rows:
            stored = StoredObject(row=dict(row), lite=dict(lite or {}), schema_version=schema_version)
            objects.stored[stored.dia_object_id] = stored
        return objects

    def item(self, row: dict[str, Any], lite: dict[str, Any], *, schema_version: str = "",
             dia_source_id: int | None = None) -> StoredObject:
        return StoredObject(row=row, lite=lite, schema_version=schema_version, dia_source_id=dia_source_id)

    @staticmethod
    def _version(item: StoredObject) -> tuple[float, int]:
        return item.row["lastDiaSourceMjdTai"], item.dia_source_id or 0

    def put_newest(self, items: Sequence[tuple[StoredObject, AlertPointer | None]]) -> set[int]:
        if self.fail is not None:
            raise self.fail
        newest: dict[int, StoredObject] = {}
        for item, pointer in items:
            held = newest.get(item.dia_object_id)
            if held is None or self._version(item) >= self._version(held):
                item.alert_pointer = pointer
                newest[item.dia_object_id] = item
        written = {i for i, item in newest.items()
                   if i not in self.stored or self._version(item) >= self._version(self.stored[i])}
        self.stored.update({i: newest[i] for i in written})
        self.writes.append(sorted(written))
        return written

    def get(self, dia_object_id: int) -> StoredObject | None:
        return self.stored.get(dia_object_id)

    def get_many(self, ids: Iterable[int]) -> dict[int, StoredObject]:
        return {i: self.stored[i] for i in ids if i in self.stored}

    def recent(self, limit: int) -> list[StoredObject]:
        newest = sorted(self.stored.values(), key=lambda s: s.row.get("lastDiaSourceMjdTai") or 0.0, reverse=True)
        return newest[:limit]

    def in_sky_ranges(self, ranges: Iterable[PixelRange], limit: int | None = None) -> SkyScan:
        ranges = list(ranges)
        points = []
        for stored in self.stored.values():
            ra, decl = stored.row.get("ra"), stored.row.get("decl")
            if not is_position(ra, decl):
                continue
            keys = sky_attributes(ra, decl)
            if any(r.cell == keys["sky_cell"] and r.first <= keys["sky_pix"] <= r.last for r in ranges):
                points.append(SkyPoint(stored.dia_object_id, float(ra), float(decl)))
        points.sort(key=lambda p: p.dia_object_id)
        if limit is not None and len(points) > limit:
            return SkyScan(points=[], queries=len(ranges), over=len(points))
        return SkyScan(points=points, queries=len(ranges), gets=-(-len(points) // 100))


class MemoryArchive(ArchiveWriter, FullAlertSource):
    """The alert archive: ``alerts`` (each in the archive's member format, ``storage.archive.pack_alerts``)
    by pointer, one "object" per ``put_batch`` (``batches``); ``reads`` logs every pointer read, ``calls``
    every ``get_many``. ``MemoryArchive({id: (full alert, version)})`` holds those at :meth:`pointer` ``(id)``."""

    def __init__(self, alerts: Mapping[int, tuple[dict[str, Any], str]] | None = None):
        self.alerts: dict[AlertPointer, bytes] = {
            self.pointer(i): pack_alerts([AlertToArchive(version, full=full)]).body
            for i, (full, version) in (alerts or {}).items()}
        self.batches: list[list[AlertPointer]] = []
        self.reads: list[AlertPointer] = []
        self.calls = 0

    @staticmethod
    def pointer(dia_object_id: int) -> AlertPointer:
        return AlertPointer(key=f"memory/object/{dia_object_id}")

    def put_batch(self, alerts: Sequence[AlertToArchive]) -> list[AlertPointer]:
        key = f"memory/batch/{len(self.batches)}"
        pointers = [AlertPointer(key=key, offset=i, length=1) for i in range(len(alerts))]
        self.alerts.update(zip(pointers, (pack_alerts([a]).body for a in alerts), strict=True))
        self.batches.append(pointers)
        return pointers

    def get_many(self, pointers: Iterable[AlertPointer]) -> dict[AlertPointer, tuple[dict[str, Any], str]]:
        self.calls += 1
        pointers = list(pointers)
        self.reads.extend(pointers)
        return {p: unpack_member(self.alerts[p]) for p in pointers if p in self.alerts}

    def latest(self, objects: MemoryObjects, dia_object_id: int) -> tuple[dict[str, Any], str] | None:
        """The archived alert the stored object points at, as the archive reads it back."""
        stored = objects.stored.get(dia_object_id)
        if stored is None or stored.alert_pointer not in self.alerts:
            return None
        return unpack_member(self.alerts[stored.alert_pointer])


# -- filters -------------------------------------------------------------------------------------


@dataclass
class MemoryFilters(ActiveFilters):
    """The active filters, whatever the trigger (``asked`` logs the triggers asked for)."""

    filters: list[StoredFilter]
    asked: list[str] = field(default_factory=list)

    def active(self, trigger: Any) -> list[StoredFilter]:
        self.asked.append(trigger)
        return self.filters


class MemoryFailureCounts(FailureCounts):
    """Failure counts on the filter item (a filter is known by id; versions are trusted)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.suspended: dict[str, Suspension] = {}
        self.writes = 0

    def add_failure(self, f: StoredFilter) -> int:
        self.writes += 1
        self.counts[f.filter_id] = self.counts.get(f.filter_id, 0) + 1
        return self.counts[f.filter_id]

    def clear_failures(self, f: StoredFilter) -> None:
        self.writes += 1
        self.counts[f.filter_id] = 0

    def suspend(self, f: StoredFilter, suspension: Suspension) -> bool:
        if f.filter_id in self.suspended:
            return False
        self.writes += 1
        self.suspended[f.filter_id] = suspension
        return True


class RecordingNotice:
    """The suspension notice (``skystream.ports.Notify``): every (filter, suspension) told."""

    def __init__(self) -> None:
        self.sent: list[tuple[StoredFilter, Suspension]] = []

    def __call__(self, f: StoredFilter, suspension: Suspension) -> None:
        self.sent.append((f, suspension))


@dataclass
class RecordingRunner(FilterRunner):
    """The filter runner: logs each run's (object ids, filter ids, trigger); every object matches and is produced."""

    calls: list[tuple[list[int], list[str], str]] = field(default_factory=list)

    def run_and_deliver(self, objects: Sequence[ObjectContext], filters: Sequence[StoredFilter], *,
                        trigger: Literal["alert", "annotation", "save"], max_records_per_filter: int | None = None,
                        budget: Any = None) -> MatchReport:
        self.calls.append(([o.dia_object_id for o in objects], [f.filter_id for f in filters], trigger))
        return MatchReport(objects=len(objects), filters=len(filters), matched=len(objects), produced=len(objects))


# -- joined tables -------------------------------------------------------------------------------


@dataclass
class MemoryAnnotations(AnnotationReader):
    rows: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[list[int], list[str]]] = field(default_factory=list)

    def latest(self, object_ids: Iterable[int], annotators: Iterable[str]) -> list[dict[str, Any]]:
        ids, names = list(object_ids), list(annotators)
        self.calls.append((ids, names))
        return [r for r in self.rows if r["diaObjectId"] in ids and r["annotator"] in names]


@dataclass
class MemoryContext(ContextReader, ContextWriter):
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[list[int], list[str]]] = field(default_factory=list)
    puts: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    def rows_of(self, object_ids: Iterable[int], tables: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        ids, names = list(object_ids), list(tables)
        self.calls.append((ids, names))
        return {t: [r for r in self.rows.get(t, []) if r["diaObjectId"] in ids] for t in names}

    def put_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        self.puts.append((table, list(rows)))
        return len({r["diaObjectId"] for r in rows})


@dataclass
class MemoryWatchlists:
    """The watchlist repository port (``storage/watchlists.py``) in memory; ``source_reads`` counts reads of sources."""

    lists: dict[int, Watchlist] = field(default_factory=dict)
    stored_sources: dict[int, list[Source]] = field(default_factory=dict)
    source_reads: int = 0
    settings_reads: int = 0

    def add(self, *, owner: int, name: str, description: str, radius: float, public: bool, active: bool,
            sources: list[Source]) -> Watchlist:
        wl_id = max(self.lists, default=0) + 1
        self.lists[wl_id] = Watchlist(wl_id, owner, name, description, radius, public, active, len(sources), "now")
        self.stored_sources[wl_id] = list(sources)
        return self.lists[wl_id]

    def get(self, wl_id: int) -> Watchlist | None:
        return self.lists.get(wl_id)

    def many(self, ids: list[int]) -> dict[int, Watchlist]:
        self.settings_reads += 1
        return {i: self.lists[i] for i in ids if i in self.lists}

    def all(self) -> list[Watchlist]:
        return list(self.lists.values())

    def sources(self, wl_id: int) -> list[Source]:
        self.source_reads += 1
        return self.stored_sources[wl_id]

    def update(self, wl_id: int, changes: dict[str, Any]) -> Watchlist:
        self.lists[wl_id] = dataclasses.replace(self.lists[wl_id], **changes)
        return self.lists[wl_id]

    def delete(self, wl_id: int) -> None:
        self.lists.pop(wl_id, None)
        self.stored_sources.pop(wl_id, None)


def no_watchlists() -> WatchlistMatcher:
    """A watchlist matcher over no watchlists (a filter naming one gets no hits), for tests of other tables."""
    return WatchlistMatcher(MemoryWatchlists())


@dataclass
class MemoryWatchmaps:
    """The watchmap repository port (``storage/watchmaps.py``) in memory; ``moc_reads`` counts reads of MOCs."""

    maps: dict[int, Watchmap] = field(default_factory=dict)
    mocs: dict[int, Moc] = field(default_factory=dict)
    moc_reads: int = 0
    settings_reads: int = 0

    def add(self, *, owner: int, name: str, description: str, public: bool, active: bool, moc: Moc) -> Watchmap:
        ar_id = max(self.maps, default=0) + 1
        self.maps[ar_id] = Watchmap(ar_id, owner, name, description, public, active, moc.ranges, moc.depth,
                                    moc.sky_fraction(), "now")
        self.mocs[ar_id] = moc
        return self.maps[ar_id]

    def get(self, ar_id: int) -> Watchmap | None:
        return self.maps.get(ar_id)

    def many(self, ids: list[int]) -> dict[int, Watchmap]:
        self.settings_reads += 1
        return {i: self.maps[i] for i in ids if i in self.maps}

    def all(self) -> list[Watchmap]:
        return list(self.maps.values())

    def moc(self, ar_id: int) -> Moc:
        self.moc_reads += 1
        return self.mocs[ar_id]

    def update(self, ar_id: int, changes: dict[str, Any]) -> Watchmap:
        self.maps[ar_id] = dataclasses.replace(self.maps[ar_id], **changes)
        return self.maps[ar_id]

    def delete(self, ar_id: int) -> None:
        self.maps.pop(ar_id, None)
        self.mocs.pop(ar_id, None)


def no_watchmaps() -> WatchmapMatcher:
    """A watchmap matcher over no watchmaps (a filter naming one gets no hits), for tests of other tables."""
    return WatchmapMatcher(MemoryWatchmaps())


# -- annotations ---------------------------------------------------------------------------------


@dataclass
class MemoryAnnotationWriter:
    """The annotation writer port: ``stored`` in upload order."""

    stored: list[AnnotationRecord] = field(default_factory=list)

    def put_many(self, annotations: Sequence[AnnotationRecord]) -> None:
        self.stored.extend(annotations)


class MemoryAnnotators:
    """The annotator lookup port over the annotators given."""

    def __init__(self, *annotators: Annotator):
        self.by_name = {a.name: a for a in annotators}

    def get(self, name: str) -> Annotator | None:
        return self.by_name.get(name)


@dataclass(frozen=True)
class Caller:
    user_id: int


# -- email ---------------------------------------------------------------------------------------


class RecordingMailer(Mailer):
    """The mail port: every raw message sent; one whose ``To`` holds an address in ``fail_for`` is refused."""

    def __init__(self, fail_for: Iterable[str] = frozenset()):
        self.sent: list[bytes] = []
        self.fail_for = set(fail_for)

    def send(self, raw: bytes, sender: str) -> str:
        to = str(email.message_from_bytes(raw)["To"])
        if any(address in to for address in self.fail_for):
            raise RuntimeError(f"refused {to}")
        self.sent.append(raw)
        return f"msg-{len(self.sent)}"


class MemoryDigests(DigestSink, DigestOutbox):
    """The digest table: email filters' matches per (day, user), the parts sent, one lease per (day, user).
    ``calls`` logs every ``add_matches`` as it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.matches: dict[tuple[dt.date, int], list[Match]] = {}
        self.sent: dict[tuple[dt.date, int], list[SentPart]] = {}
        self.leases: dict[tuple[dt.date, int], str] = {}

    def add_matches(self, day: dt.date, user_id: int, filter_id: str, filter_name: str, rows: list[dict[str, Any]],
                    utc: str) -> int:
        self.calls.append((day, user_id, filter_id, filter_name, rows, utc))
        stored = self.matches.setdefault((day, user_id), [])
        stored += [Match(sk=f"m#{utc}#{filter_id}#{len(stored) + n}", filter_id=filter_id, filter_name=filter_name,
                         utc=utc, record={**row, "UTC": utc}) for n, row in enumerate(rows)]
        return len(rows)

    def users(self, day: dt.date) -> list[int]:
        return sorted(user for d, user in self.matches if d == day)

    def pending(self, day: dt.date, user_id: int) -> tuple[list[Match], list[SentPart]]:
        sent = self.sent.get((day, user_id), [])
        covered = {sk for part in sent for sk in part.items}
        return [m for m in self.matches.get((day, user_id), []) if m.sk.encode() not in covered], list(sent)

    def mark_sent(self, day: dt.date, user_id: int, part: int, matches: Sequence[Match], message_id: str) -> None:
        self.sent.setdefault((day, user_id), []).append(
            SentPart(part=part, count=len(matches), message_id=message_id, sent_at="",
                     items=frozenset(m.sk.encode() for m in matches)))

    def claim(self, day: dt.date, user_id: int, owner: str, lease_s: int = 900) -> bool:
        holder = self.leases.setdefault((day, user_id), owner)
        return holder == owner

    def release(self, day: dt.date, user_id: int, owner: str) -> None:
        if self.leases.get((day, user_id)) == owner:
            del self.leases[(day, user_id)]


# -- services wired with fakes -------------------------------------------------------------------


def matcher(*, producer: RecordProducer | None = None, quota: QuotaCounter | None = None,
            archive: FullAlertSource | None = None, digest: DigestSink | None = None,
            engine: FilterEngine | None = None, health: FilterHealth | None = None,
            joins: Joins | None = None) -> Matcher:
    """A real :class:`Matcher` (real output strategies) on fakes: what is not given is an empty fake,
    the engine is SQLite with its default limits, and no failure bookkeeping unless ``health``."""
    outputs = Outputs.of(kafka=KafkaOutput(producer or RecordingProducer(), quota or MemoryQuota(),
                                           archive or MemoryArchive()),
                         email=EmailOutput(digest or MemoryDigests()))
    return Matcher(engine=engine or SqliteEngine(), joins=joins or Joins(annotations=MemoryAnnotations(),
                                                                        context=MemoryContext(),
                                                                        watchlists=no_watchlists(),
                                                                        watchmaps=no_watchmaps()),
                   outputs=outputs, health=health)


# -- the history ---------------------------------------------------------------------------------


class MemoryHistory(HistoryStore):
    """The history's bucket as a local directory ``root`` (``{key}`` -> ``root/{key}``): real Parquet files,
    written with ``history.parquet`` as the lake adapter writes them. ``appends`` logs (table, night, rows, name);
    ``deleted`` every key deleted; ``fail_appends`` makes ``append`` raise OSError (S3 down)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.appends: list[tuple[str, int, int, str]] = []
        self.deleted: list[str] = []
        self.fail_appends = False

    def _path(self, key: str) -> Path:
        return self.root / key

    def append(self, table: str, night: int, rows: Sequence[Mapping[str, Any]], *, name: str) -> str:
        if self.fail_appends:
            raise OSError("S3 unavailable (MemoryHistory.fail_appends)")
        key = f"{HISTORY_TABLES[table].night_prefix(night)}{name}.parquet"
        self._path(key).parent.mkdir(parents=True, exist_ok=True)
        write_parquet(HISTORY_TABLES[table], rows, self._path(key))
        self.appends.append((table, night, len(rows), name))
        return key

    def upload(self, table: str, night: int, name: str, path: str) -> str:
        key = f"{HISTORY_TABLES[table].night_prefix(night)}{name}.parquet"
        self._path(key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, self._path(key))
        return key

    def files(self, table: str, night: int | None = None) -> list[HistoryFile]:
        spec = HISTORY_TABLES[table]
        base = self.root / (spec.prefix() if night is None else spec.night_prefix(night))
        out = []
        for path in sorted(base.rglob("*.parquet")):
            key = str(path.relative_to(self.root)).replace(os.sep, "/")
            out.append(HistoryFile(key=key, night=int(key.split("night=")[1].split("/")[0]), size=path.stat().st_size))
        return out

    def nights(self, table: str) -> list[int]:
        return sorted({f.night for f in self.files(table)}, reverse=True)

    def local_dir(self, table: str) -> str:
        return str(self.root / HISTORY_TABLES[table].prefix())

    def download(self, key: str, path: str) -> None:
        shutil.copyfile(self._path(key), path)

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)
            self.deleted.append(key)

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of ``table`` now stored (all nights, all files)."""
        return read_parquet(self._path(f.key) for f in self.files(table))


class RecordingAthena:
    """A boto3 Athena client that records each call (``calls``: (operation, kwargs)) and answers from a script:
    ``states`` are the successive ``GetQueryExecution`` states, ``pages`` the ``GetQueryResults`` pages
    (``ResultSet`` dicts, the first holding the header row), ``reason`` the StateChangeReason of a failure."""

    def __init__(self, states: Sequence[str] = ("RUNNING", "SUCCEEDED"), pages: Sequence[dict[str, Any]] = (),
                 reason: str = ""):
        self.states = list(states)
        self.pages = list(pages)
        self.reason = reason
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("StartQueryExecution", kwargs))
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetQueryExecution", kwargs))
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        status: dict[str, Any] = {"State": state}
        if self.reason:
            status["StateChangeReason"] = self.reason
        return {"QueryExecution": {"QueryExecutionId": kwargs["QueryExecutionId"], "Status": status}}

    def get_query_results(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetQueryResults", kwargs))
        index = int(kwargs.get("NextToken") or 0)
        page: dict[str, Any] = {"ResultSet": self.pages[index]}
        if index + 1 < len(self.pages):
            page["NextToken"] = str(index + 1)
        return page

    def stop_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("StopQueryExecution", kwargs))
        return {}

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]
