"""The ports: what the services need of the world, one ``Protocol`` per need, defined here once.

Services are written against these; the adapters (``storage/``, ``streams/``) implement them
and :mod:`skystream.wiring` hands real ones to the services; tests hand the fakes in
``tests/fakes.py``. A port names only domain types, so this module sits just above
:mod:`skystream.domain` and imports nothing else of skystream.

The one port that is not here is the filter engine (``skystream.filters.engine.FilterEngine``):
it names the filter core's own types (a compiled filter, a batch of rows), so it lives there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

from skystream.domain.annotations import AnnotationEvent, AnnotationRecord, Annotator
from skystream.domain.digest import Match, SentPart
from skystream.domain.filters import StoredFilter, Suspension, Trigger
from skystream.domain.matches import MatchReport
from skystream.domain.objects import AlertPointer, AlertToArchive, HistoryFile, ObjectContext, StoredObject
from skystream.domain.records import TopicPage
from skystream.domain.sky import PixelRange, SkyScan
from skystream.domain.stream_access import AclBinding, AclPlan, Scope
from skystream.domain.users import Recipient, User
from skystream.domain.watchlists import Source, Watchlist
from skystream.domain.watchmaps import Moc, Watchmap

# -- Kafka ---------------------------------------------------------------------------------------


class RecordProducer(Protocol):
    """A Kafka producer that checks a record's size before queueing it and flushes on demand."""

    def fits(self, value: bytes, key: bytes | None = None) -> bool:
        """Whether a record of this value and key is within the producer's size limit."""

    def produce(self, topic: str, value: bytes, key: bytes | str | None = None,
                headers: Mapping[str, bytes | str] | None = None) -> bool:
        """Queue one record; False (nothing queued) when it is over the size limit."""

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for every queued record; raises when the broker refused or lost one."""


class Topics(Protocol):
    """Creating and deleting users' topics (``skystream.streams.admin.TopicAdmin``)."""

    def create(self, topics: Sequence[str], *, partitions: int = 1, retention_ms: int | None = ...) -> None: ...

    def delete(self, topics: Sequence[str], *, missing_ok: bool = True) -> None: ...


class TopicTail(Protocol):
    """Reads the newest records of a topic, below a cursor, without a consumer group
    (``skystream.streams.tail.TopicReader``)."""

    def tail(self, topic: str, *, limit: int, before: Mapping[int, int] | None = None,
             max_bytes: int = ...) -> TopicPage:
        """At most ``limit`` records (and about ``max_bytes`` of values), newest first."""


class EventPublisher(Protocol):
    """Announces accepted annotations on topic ``annotations``."""

    def publish(self, events: Sequence[AnnotationEvent]) -> None: ...


# -- counters ------------------------------------------------------------------------------------


class QuotaCounter(Protocol):
    """Bytes each filter has put on its topic per UTC day."""

    def used(self, filter_id: str, day: dt.date) -> int: ...

    def add(self, filter_id: str, day: dt.date, nbytes: int) -> int: ...


class RateCounter(Protocol):
    def hit(self, what: str, user_id: int, window_s: int = 60) -> tuple[int, float]:
        """Count one request in the current clock window of ``window_s`` seconds; returns (requests in
        that window, seconds until it ends)."""


# -- objects and alerts --------------------------------------------------------------------------


class ObjectWriter(Protocol):
    """The objects table as the ingest writes it: build each item (pure), then write a batch, newest only."""

    def item(self, row: dict[str, Any], lite: dict[str, Any], *, schema_version: str = "",
             dia_source_id: int | None = None) -> object:
        """The storage item of one record, with no I/O; raises ``OutOfBounds`` when it cannot be stored."""

    def put_newest(self, items: Sequence[tuple[Any, AlertPointer | None]]) -> set[int]:
        """Write each object's newest item (with its full alert's pointer) unless a newer alert of the
        object is stored; returns the diaObjectIds written. Raises only for the store's failures."""


class ObjectReader(Protocol):
    """The objects table as filters read it: by id, many ids, or the most recent."""

    def get(self, dia_object_id: int) -> StoredObject | None: ...

    def get_many(self, ids: Iterable[int]) -> Mapping[int, StoredObject]: ...

    def recent(self, limit: int) -> list[StoredObject]: ...


class SkyIndexReader(Protocol):
    """The objects' sky index (``skystream.storage.objects.ObjectStore``): the objects in ranges of HEALPix pixels."""

    def in_sky_ranges(self, ranges: Iterable[PixelRange], limit: int | None = None) -> SkyScan:
        """The objects in the ranges with their positions; more than ``limit`` of them: none read (``over``)."""
        ...


class ArchiveWriter(Protocol):
    def put_batch(self, alerts: Sequence[AlertToArchive]) -> list[AlertPointer]:
        """Archive a batch's alerts together; each one's pointer, in order."""


class FullAlertSource(Protocol):
    """Archived full alerts by pointer, with their schema versions; a pointer to nothing is absent."""

    def get_many(self, pointers: Iterable[AlertPointer]) -> Mapping[AlertPointer, tuple[dict[str, Any], str]]: ...


# -- filters -------------------------------------------------------------------------------------


class ActiveFilters(Protocol):
    def active(self, trigger: Trigger) -> list[StoredFilter]: ...


class FilterRepository(ActiveFilters, Protocol):
    """Users' filters (``skystream.storage.filters.FilterStore``), with optimistic versions."""

    def get(self, filter_id: str) -> StoredFilter | None: ...

    def put(self, f: StoredFilter, *, expected_version: int | None = None,
            previous_topic: str | None = None) -> StoredFilter: ...

    def delete(self, f: StoredFilter) -> None: ...

    def list_for(self, owner: int) -> list[StoredFilter]: ...

    def list_public(self) -> list[StoredFilter]: ...


class FailureCounts(Protocol):
    """The durable side of suspension: a failure counter on the filter item."""

    def add_failure(self, f: StoredFilter) -> int: ...

    def clear_failures(self, f: StoredFilter) -> None: ...

    def suspend(self, f: StoredFilter, suspension: Suspension) -> bool: ...


class FilterHealth(Protocol):
    """What the matcher reports after each batch, per filter it ran."""

    def succeeded(self, f: StoredFilter) -> None: ...

    def failed(self, f: StoredFilter, reason: str) -> None: ...


Notify = Callable[[StoredFilter, Suspension], None]
"""Tells a filter's owner it was suspended (once, by the container that suspended it)."""


class Deadline(Protocol):
    """A batch's time budget (``skystream.filters.schedule.BatchBudget``)."""

    def left(self) -> float: ...


class FilterRunner(Protocol):
    """Runs filters over objects and delivers their matches (``skystream.services.matching.Matcher``)."""

    def run_and_deliver(self, objects: Sequence[ObjectContext], filters: Sequence[StoredFilter], *,
                        trigger: Literal["alert", "annotation", "save"], max_records_per_filter: int | None = None,
                        budget: Deadline | None = None) -> MatchReport: ...


# -- joined tables -------------------------------------------------------------------------------


class NeedsTables(Protocol):
    """What a batch builder reads of a compiled filter (``skystream.filters.compiler.CompiledFilter``)."""

    @property
    def tables(self) -> frozenset[str]: ...

    @property
    def annotators(self) -> frozenset[str]: ...

    @property
    def columns(self) -> frozenset[tuple[str, str]] | None:
        """(table, column) pairs the filter reads; None: it does not say (then every column counts)."""
        ...

    @property
    def watchlists(self) -> frozenset[int]:
        """The watchlists whose hits the filter joins (``watchlist:N``)."""
        ...

    @property
    def watchmaps(self) -> frozenset[int]:
        """The watchmaps whose hits the filter joins (``watchmap:N``, ``area:N``)."""
        ...


class AnnotationReader(Protocol):
    def latest(self, object_ids: Iterable[int], annotators: Iterable[str]) -> list[dict[str, Any]]: ...


class ContextReader(Protocol):
    def rows_of(self, object_ids: Iterable[int], tables: Iterable[str]) -> dict[str, list[dict[str, Any]]]: ...


class ContextWriter(Protocol):
    def put_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> int: ...


class ObjectAnnotations(Protocol):
    """An object's annotations as the API shows them."""

    def latest_for_object(self, dia_object_id: int) -> list[dict[str, Any]]: ...

    def history(self, dia_object_id: int) -> list[dict[str, Any]]: ...

    def for_object(self, dia_object_id: int) -> dict[str, list[dict[str, Any]]]: ...


class ObjectContextRows(Protocol):
    """An object's context rows by table, as the API shows them."""

    def for_object(self, dia_object_id: int) -> dict[str, dict[str, Any]]: ...


# -- annotations ---------------------------------------------------------------------------------


class AnnotationWriter(Protocol):
    def put_many(self, annotations: Sequence[AnnotationRecord]) -> None: ...


class AnnotatorLookup(Protocol):
    def get(self, name: str) -> Annotator | None: ...


class Caller(Protocol):
    """Who is uploading (a :class:`~skystream.domain.users.User` fits)."""

    @property
    def user_id(self) -> int: ...


# -- users ---------------------------------------------------------------------------------------


class UserLookup(Protocol):
    def get(self, user_id: int) -> User | None: ...


class TokenLookup(Protocol):
    """Finding a token's user while counting a source's wrong tokens (``skystream.storage.users.UserStore``)."""

    def by_token_counting(self, token: str, source: str, window: int) -> tuple[User | None, int]: ...

    def count_failure(self, source: str, window: int, expires_at: int) -> int: ...


Recipients = Callable[[int], Recipient | None]
"""A user's name and address by user id (None: no such user)."""


# -- users' access to their streams ---------------------------------------------------------------


class ScramUsers(Protocol):
    """Users' SASL/SCRAM credentials where the cluster checks them: MSK secrets
    (``skystream.streams.msk_users``) or the cluster's own store (``skystream.streams.scram_users``)."""

    def set_password(self, username: str, password: str) -> None:
        """Create the user, or replace its password (the old one stops working)."""

    def remove(self, username: str) -> bool:
        """Delete the user's credential; False when it had none."""


class AclAdmin(Protocol):
    """The cluster's ACLs (``skystream.streams.acls.KafkaAcls``)."""

    def bindings(self, scope: Scope) -> set[AclBinding]:
        """The bindings the cluster has within ``scope``."""

    def apply(self, plan: AclPlan) -> None:
        """Add, then remove, the plan's bindings."""


class StreamReaders(Protocol):
    """Who holds Kafka credentials (the users table): the principals that get ACLs."""

    def readers(self) -> list[int]: ...

    def is_reader(self, user_id: int) -> bool: ...

    def add_reader(self, user_id: int, username: str) -> None: ...

    def remove_reader(self, user_id: int) -> bool: ...


class FilterCatalog(Protocol):
    """The filters whose topics ACLs follow."""

    def list_for(self, owner: int) -> list[StoredFilter]: ...

    def list_public(self) -> list[StoredFilter]: ...

    def list_all(self) -> list[StoredFilter]: ...


class TopicAccess(Protocol):
    """What a filter's lifecycle asks of access control (``skystream.services.stream_access.StreamAccess``)."""

    def grant(self, f: StoredFilter) -> None:
        """Make the ACLs of ``f``'s topic what ``f`` says (called before the topic is created)."""

    def revoke(self, topic: str) -> None:
        """Remove every ACL of ``topic`` (called after the topic is deleted)."""


# -- email ---------------------------------------------------------------------------------------


class Mailer(Protocol):
    def send(self, raw: bytes, sender: str) -> str:
        """Hand one raw MIME message to the mail service; return its message id or raise."""


class DigestSink(Protocol):
    """Where email filters' matches wait for the daily digest."""

    def add_matches(self, day: dt.date, user_id: int, filter_id: str, filter_name: str, rows: list[dict[str, Any]],
                    utc: str) -> int: ...


class DigestOutbox(Protocol):
    """The digest table as the sender reads it: who has matches, what is unsent, a lease per user."""

    def users(self, day: dt.date) -> list[int]: ...

    def pending(self, day: dt.date, user_id: int) -> tuple[list[Match], list[SentPart]]: ...

    def mark_sent(self, day: dt.date, user_id: int, part: int, matches: Sequence[Match], message_id: str) -> None: ...

    def claim(self, day: dt.date, user_id: int, owner: str, lease_s: int = 900) -> bool: ...

    def release(self, day: dt.date, user_id: int, owner: str) -> None: ...


class WatchlistReader(Protocol):
    """What matching and the filter checks read of watchlists (``skystream.storage.watchlists.WatchlistStore``)."""

    def get(self, wl_id: int) -> Watchlist | None: ...

    def many(self, ids: list[int]) -> dict[int, Watchlist]: ...

    def sources(self, wl_id: int) -> list[Source]: ...


class WatchlistRepository(WatchlistReader, Protocol):
    """The watchlists' lifecycle (``skystream.storage.watchlists.WatchlistStore``)."""

    def add(self, *, owner: int, name: str, description: str, radius: float, public: bool, active: bool,
            sources: list[Source]) -> Watchlist: ...

    def all(self) -> list[Watchlist]: ...

    def update(self, wl_id: int, changes: dict[str, Any]) -> Watchlist: ...

    def delete(self, wl_id: int) -> None: ...


class WatchlistHitRows(Protocol):
    """The ``watchlist_hits`` rows of some positions (``skystream.services.watchlists.WatchlistMatcher``)."""

    def rows(self, wl_ids: Collection[int], positions: Sequence[tuple[int, float, float]]) -> list[dict[str, Any]]: ...

    def unreadable(self, owner: int, wl_ids: Collection[int]) -> list[int]:
        """Those of ``wl_ids`` that user ``owner`` may not read now (missing, or another user's private one)."""
        ...


class WatchmapReader(Protocol):
    """What matching and the filter checks read of watchmaps (``skystream.storage.watchmaps.WatchmapStore``)."""

    def get(self, ar_id: int) -> Watchmap | None: ...

    def many(self, ids: list[int]) -> dict[int, Watchmap]: ...

    def moc(self, ar_id: int) -> Moc: ...


class WatchmapRepository(WatchmapReader, Protocol):
    """The watchmaps' lifecycle (``skystream.storage.watchmaps.WatchmapStore``)."""

    def add(self, *, owner: int, name: str, description: str, public: bool, active: bool, moc: Moc) -> Watchmap: ...

    def all(self) -> list[Watchmap]: ...

    def update(self, ar_id: int, changes: dict[str, Any]) -> Watchmap: ...

    def delete(self, ar_id: int) -> None: ...


class WatchmapHitRows(Protocol):
    """The ``area_hits`` rows of some positions (``skystream.services.watchmaps.WatchmapMatcher``)."""

    def rows(self, ar_ids: Collection[int], positions: Sequence[tuple[int, float, float]]) -> list[dict[str, Any]]: ...

    def unreadable(self, owner: int, ar_ids: Collection[int]) -> list[int]:
        """Those of ``ar_ids`` that user ``owner`` may not read now (missing, or another user's private one)."""
        ...


# -- the history (skystream.history.schema: tables by night on S3) ------------------------------


class HistoryWriter(Protocol):
    """Appends rows of one history table and night as one immutable Parquet file."""

    def append(self, table: str, night: int, rows: Sequence[Mapping[str, Any]], *, name: str) -> str:
        """Write ``rows`` (each holding the table's columns) as ``.../{table}/night={night}/{name}.parquet``;
        the same ``name`` again overwrites (a redelivered batch), returns the S3 key."""
        ...


class HistoryFiles(Protocol):
    """The history's files as a local engine reads them."""

    def nights(self, table: str) -> list[int]:
        """The nights holding files of ``table``, newest first."""
        ...

    def local_dir(self, table: str) -> str:
        """A local directory laid out as the table is on S3 (``night=N/*.parquet``), brought up to date."""
        ...


class HistoryEngine(Protocol):
    """Runs SQL in its dialect over the history tables (named as in ``HISTORY_TABLES``)."""

    dialect: Literal["duckdb", "trino"]

    def nights(self) -> list[int]:
        """Nights that hold ``objects_history`` rows, newest first."""
        ...

    def query(self, sql: str, *, time_limit_s: float) -> list[dict[str, Any]]:
        """Rows as dicts (column -> value); raises ``HistoryQueryFailed`` on an engine error or past the limit."""
        ...


class HistoryStore(HistoryWriter, HistoryFiles, Protocol):
    """What compaction and ``skystream history status`` need beyond writing and reading: the files
    themselves (``storage.history_lake.HistoryLake``; an extension of the issue 17 contract)."""

    def files(self, table: str, night: int | None = None) -> list[HistoryFile]:
        """Every file of ``table`` (of one ``night`` when given), by key."""
        ...

    def download(self, key: str, path: str) -> None:
        """Copy the object at ``key`` to the local ``path``."""
        ...

    def upload(self, table: str, night: int, name: str, path: str) -> str:
        """Put the local Parquet file ``path`` as ``.../{table}/night={night}/{name}.parquet``; returns the key."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Remove ``keys`` (missing ones are no error)."""
        ...
