"""What happens when a user saves, edits, runs or deletes a filter.

Who may do what: the owner does everything; any user may read and run a public filter;
another user's private filter does not exist for them (404); a public one they try to
change is refused (403).

Saving a Kafka filter: check the SQL, store it (optimistic version, topic claimed
atomically), delete its topic (and the old one after a rename), recreate it with 7-day
retention, then run the filter over the most recent stored objects and put up to
:data:`RESEED_LIMIT` records in it, so the user sees something at once. Old records never
survive an edit: the topic always reflects the filter as saved.

Who may read the topic follows the filter (``access``, ``skystream.services.stream_access``):
its ACLs are made what the saved filter says after the old topic is deleted and before the new
one is created, and an old topic's ACLs are removed only after the topic is gone. So a topic
never exists without its ACLs, and no ACL outlives its topic by more than the delete.

Saving also clears a suspension (``skystream.services.suspension``): the filter runs again as saved.

Per-user limits (settings with documented defaults, docs/filters.md "Limits"): a save
that would take the owner past ``max_active_filters_per_user`` active filters or
``max_daily_bytes_per_user`` of daily byte quota over active Kafka filters is refused
(403 ``limit_exceeded``), unless it does not add to what they already have (so an
operator lowering a limit never blocks an edit that deactivates or shrinks); run-now is
limited to ``run_now_per_minute`` requests per user (429) and to ``run_now_deadline_s``,
the filter itself to the matcher's per-filter time limit (400 ``run_timed_out``).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from pydantic import ValidationError

from skystream.config import Settings
from skystream.domain.errors import (
    BadRequest,
    FilterRejected,
    Forbidden,
    LimitExceeded,
    NotFound,
    RateLimited,
    RunTimedOut,
    StaleVersion,
    Unavailable,
)
from skystream.domain.filters import FilterSpec, StoredFilter
from skystream.domain.matches import MatchReport
from skystream.domain.objects import KEY_COLUMN, ObjectContext
from skystream.domain.users import User
from skystream.filters.compiler import compiled_filter
from skystream.filters.engine import SqliteEngine
from skystream.filters.parts import split_select, watchlist_ids, watchmap_ids
from skystream.outputs.formats import clean
from skystream.outputs.topics import topic_name
from skystream.ports import (
    FilterRepository,
    FilterRunner,
    ObjectReader,
    RateCounter,
    TopicAccess,
    Topics,
    WatchlistReader,
    WatchmapReader,
)
from skystream.services.joins import Joins
from skystream.services.watchlists import readable
from skystream.streams.producer import DEFAULT_MAX_RECORD_BYTES, ProduceError

RESEED_LIMIT = 10
RESEED_SCAN = 500  # most recent objects the reseed looks at
RUN_SCAN = 1000  # most recent objects "run now" looks at
RUN_ROW_CAP = 1000
RETENTION_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class FilterLimits:
    """The per-user limits and run-now bounds (settings with documented defaults, docs/filters.md "Limits")."""

    max_active_filters_per_user: int
    max_daily_bytes_per_user: int
    run_now_per_minute: int
    run_now_deadline_s: float
    filter_time_limit_s: float  # the matcher's per-filter limit: run-now never gives a filter more

    @classmethod
    def of(cls, cfg: Settings) -> FilterLimits:
        return cls(max_active_filters_per_user=cfg.max_active_filters_per_user,
                   max_daily_bytes_per_user=cfg.max_daily_bytes_per_user, run_now_per_minute=cfg.run_now_per_minute,
                   run_now_deadline_s=cfg.run_now_deadline_s, filter_time_limit_s=cfg.filter_time_limit_s)


@dataclass
class SaveOutcome:
    filter: StoredFilter
    topic: str | None
    reseeded: int
    message: str


@dataclass
class RunOutcome:
    rows: list[dict[str, Any]]
    objects_scanned: int
    truncated: bool
    elapsed_s: float


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def split_sql(sql: str) -> tuple[str, str, str | None]:
    """A whole ``SELECT ... FROM ... WHERE ...`` as Lasair's three parts, the form filters are stored in."""
    parts = split_select(sql)
    return parts.selected, parts.tables, parts.conditions or None


def visible_filter(store: FilterRepository, user: User, filter_id: str) -> StoredFilter:
    """The filter if ``user`` may read it (and its topic): their own, or a public one; 404 otherwise,
    so another user's private filter is not revealed to exist."""
    f = store.get(filter_id)
    if f is None or (f.owner != user.user_id and not f.public):
        raise NotFound(f"no filter {filter_id} (or it is another user's private filter)")
    return f


class FilterService:
    """The filter lifecycle. ``store`` keeps the filters, ``topics`` makes and removes their topics,
    ``matcher`` reseeds a saved Kafka filter's topic, ``objects`` and ``joins`` give run-now its
    batch, ``rates`` counts run-now requests, ``limits`` are the per-user limits, ``access`` keeps
    each topic's ACLs what its filter says."""

    def __init__(self, store: FilterRepository, *, topics: Topics, objects: ObjectReader, matcher: FilterRunner,
                 joins: Joins, rates: RateCounter, limits: FilterLimits, access: TopicAccess,
                 watchlists: WatchlistReader, watchmaps: WatchmapReader):
        self.store = store
        self.topics = topics
        self.access = access
        self.objects = objects
        self.matcher = matcher
        self.joins = joins
        self.watchlists = watchlists
        self.watchmaps = watchmaps
        self.rates = rates
        self.limits = limits

    # -- access ---------------------------------------------------------------------------------

    def visible(self, user: User, filter_id: str) -> StoredFilter:
        """A filter the user may read and run: their own, or a public one."""
        return visible_filter(self.store, user, filter_id)

    def editable(self, user: User, filter_id: str) -> StoredFilter:
        f = self.visible(user, filter_id)
        if f.owner != user.user_id:
            raise Forbidden(f"filter {filter_id} belongs to another user; you may read and run it, not change it. "
                            "Copy its SQL into a filter of your own to modify it")
        return f

    def listing(self, user: User, *, include_public: bool = True) -> list[StoredFilter]:
        own = self.store.list_for(user.user_id)
        if not include_public:
            return own
        seen = {f.filter_id for f in own}
        return own + [f for f in self.store.list_public() if f.filter_id not in seen]

    # -- checks ---------------------------------------------------------------------------------


    def _within_limits(self, user: User, saved: StoredFilter, current: StoredFilter | None = None) -> None:
        """Refuse a save that takes ``user`` past a per-user limit (and adds to what they have)."""
        config = self.limits
        others = [f for f in self.store.list_for(user.user_id) if f.filter_id != saved.filter_id]

        def usage(mine: StoredFilter | None) -> tuple[int, int]:
            active = [f for f in [*others, *([mine] if mine else [])] if f.active]
            return len(active), sum(f.byte_quota for f in active if f.is_kafka)

        (count_before, bytes_before), (count_after, bytes_after) = usage(current), usage(saved)
        if count_after > config.max_active_filters_per_user and count_after > count_before:
            raise LimitExceeded(
                f"you would have {count_after} active filters; the limit is {config.max_active_filters_per_user} "
                "per user (setting MAX_ACTIVE_FILTERS_PER_USER). Save this one inactive (on_alert and on_annotation "
                "false), or deactivate or delete another, or ask the operator to raise the limit",
                setting="MAX_ACTIVE_FILTERS_PER_USER", limit=config.max_active_filters_per_user)
        if bytes_after > config.max_daily_bytes_per_user and bytes_after > bytes_before:
            raise LimitExceeded(
                f"the daily byte quotas of your active Kafka filters would add up to {bytes_after} bytes; the limit "
                f"is {config.max_daily_bytes_per_user} per user (setting MAX_DAILY_BYTES_PER_USER). Lower byte_quota "
                f"(at most {max(0, config.max_daily_bytes_per_user - (bytes_after - saved.byte_quota))} here), "
                "deactivate another Kafka filter, or ask the operator to raise the limit",
                setting="MAX_DAILY_BYTES_PER_USER", limit=config.max_daily_bytes_per_user)

    # -- lifecycle ------------------------------------------------------------------------------

    def _may_read_watchlists(self, owner: int, spec: FilterSpec | StoredFilter) -> None:
        """Refuse a filter naming a watchlist or watchmap its owner may not read, as a missing one (404 ``no
        watchlist N`` / ``no watchmap N``)."""
        readable(self.watchlists, owner, watchlist_ids(spec.tables))
        readable(self.watchmaps, owner, watchmap_ids(spec.tables), kind="watchmap")

    def create(self, user: User, spec: FilterSpec) -> SaveOutcome:
        spec = checked_spec(spec)
        self._may_read_watchlists(user.user_id, spec)
        now = _now()
        f = StoredFilter(
            filter_id=uuid.uuid4().hex[:16],
            owner=user.user_id,
            **_stored_fields(spec),
            topic=topic_name(user.user_id, spec.name) if spec.output.startswith("kafka") else None,
            created=now,
            modified=now,
            version=1,
        )
        self._within_limits(user, f)
        self.store.put(f)
        return self._after_save(f, previous_topic=None)

    def update(self, user: User, filter_id: str, changes: dict[str, Any], version: int) -> SaveOutcome:
        """Apply ``changes`` (fields of :class:`FilterSpec`) to version ``version`` of the filter."""
        current = self.editable(user, filter_id)
        if version != current.version:
            raise StaleVersion(f"filter {filter_id} is at version {current.version}, not {version}; "
                               "read it again and re-apply your change", current_version=current.version)
        merged = {**_spec_fields(current), **changes}
        if changes.get("sql"):
            merged = {**merged, "selected": None, "tables": None, "conditions": None}
        try:
            spec = FilterSpec.model_validate(merged)
        except ValidationError as exc:  # the change is valid alone but not with the stored fields
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise BadRequest(f"the filter would not be valid after this change: {problems}") from exc
        spec = checked_spec(spec)
        self._may_read_watchlists(current.owner, spec)
        f = current.model_copy(update={
            **_stored_fields(spec),
            "topic": topic_name(user.user_id, spec.name) if spec.output.startswith("kafka") else None,
            "modified": _now(),
            "version": current.version + 1,
            "consecutive_failures": 0,  # saving re-activates a suspended filter: it starts afresh
            "suspended": None,
        })
        f._compiled = None
        self._within_limits(user, f, current)
        self.store.put(f, expected_version=current.version, previous_topic=current.topic)
        return self._after_save(f, previous_topic=current.topic)

    def delete(self, user: User, filter_id: str) -> StoredFilter:
        f = self.editable(user, filter_id)
        self.store.delete(f)
        if f.topic:
            try:
                self.topics.delete([f.topic])
                self.access.revoke(f.topic)  # after the topic is gone: it never exists without its ACLs
            except (KafkaException, Unavailable) as exc:
                raise Unavailable(f"filter {filter_id} is deleted, but the Kafka cluster did not answer while its "
                                  f"topic {f.topic} and its ACLs were deleted ({exc}); an administrator can remove "
                                  "them (`skystream streams acl-plan --apply` removes the ACLs)",
                                  topic=f.topic) from exc
        return f

    def _after_save(self, f: StoredFilter, previous_topic: str | None) -> SaveOutcome:
        try:
            stale = sorted(t for t in {previous_topic, f.topic} if t)
            if stale:
                self.topics.delete(stale)
            if previous_topic and previous_topic != f.topic:
                self.access.revoke(previous_topic)  # its topic is gone
            if not f.topic:
                return SaveOutcome(f, None, 0, "saved; this filter has no Kafka topic")
            self.access.grant(f)  # before the topic exists again
            self.topics.create([f.topic], partitions=1, retention_ms=RETENTION_MS)
            report = self.reseed(f)
        except (KafkaException, ProduceError, Unavailable) as exc:
            raise Unavailable(
                f"filter {f.filter_id} is saved (version {f.version}) but the Kafka cluster did not answer while "
                f"its topic was prepared ({exc}); save it again (PATCH with version {f.version}) to retry",
                filter_id=f.filter_id, version=f.version,
            ) from exc
        note = (f"saved; {report.produced} recent match(es) put in topic {f.topic}" if report.produced else
                f"saved; topic {f.topic} is empty until the filter's first match "
                "(consumers get no records until then)")
        if report.dropped_oversize:
            note += (f"; {report.dropped_oversize} record(s) dropped for being over the "
                     f"{DEFAULT_MAX_RECORD_BYTES / 1e6:g} MB record limit "
                     "(kafka_full records of long lightcurves; kafka_lite keeps them small)")
        if report.dropped_quota:
            note += f"; {report.dropped_quota} record(s) dropped: today's byte quota of this filter is used up"
        return SaveOutcome(f, f.topic, report.produced, note)

    def reseed(self, f: StoredFilter) -> MatchReport:
        """Run ``f`` over the most recent stored objects and put up to :data:`RESEED_LIMIT` records on its topic."""
        contexts = self._recent_contexts(RESEED_SCAN)
        return self.matcher.run_and_deliver(contexts, [f], trigger="save", max_records_per_filter=RESEED_LIMIT)

    def _recent_contexts(self, limit: int) -> list[ObjectContext]:
        return [ObjectContext.from_stored(o) for o in self.objects.recent(limit)]

    # -- run now --------------------------------------------------------------------------------

    def run(self, user: User, f: StoredFilter | FilterSpec, *, limit: int = RUN_ROW_CAP) -> RunOutcome:
        """Evaluate now over the most recent stored objects; returns the rows, capped at ``limit``.

        Bounded well below the API's 29 s: the whole request by ``run_now_deadline_s``, the
        filter itself by the matcher's per-filter time limit (a filter slower than that here
        would time out in the matcher too). One user may run ``run_now_per_minute`` a minute.
        """
        config = self.limits
        started = time.monotonic()
        deadline = started + config.run_now_deadline_s
        admit_run(self.rates, user.user_id, config.run_now_per_minute)
        if isinstance(f, FilterSpec):
            f = unsaved_filter(f)
        self._may_read_watchlists(user.user_id, f)
        compiled = compiled_filter(f)
        rows = [o.row for o in self.objects.recent(RUN_SCAN)]
        batch = self.joins.build(rows, [compiled])
        time_limit = min(config.filter_time_limit_s, deadline - time.monotonic())
        if time_limit <= 0:
            raise RunTimedOut(f"reading the {len(rows)} most recent objects took the whole run-now time of "
                              f"{config.run_now_deadline_s:g} s (setting RUN_NOW_DEADLINE_S); try again",
                              time_limit_s=config.run_now_deadline_s, objects_scanned=len(rows))
        outcome = SqliteEngine(time_limit_s=time_limit, row_cap=limit).run(batch, [(f.filter_id, compiled)])[f.filter_id]
        if outcome.timed_out:
            raise RunTimedOut(
                f"the filter did not finish over the {len(rows)} most recent objects: {outcome.error}. The matcher "
                f"gives each filter {config.filter_time_limit_s:g} s per batch, so it would time out there too; make it "
                "cheaper (fewer or shorter LIKE patterns, fewer joined tables)",
                time_limit_s=round(time_limit, 3), elapsed_s=round(outcome.elapsed_s, 3), objects_scanned=len(rows))
        if outcome.error is not None:
            raise FilterRejected(f"the filter failed while running: {outcome.error}")
        return RunOutcome(rows=[clean(r) for r in outcome.rows], objects_scanned=len(rows),
                          truncated=bool(outcome.truncated), elapsed_s=time.monotonic() - started)


def admit_run(rates: RateCounter, user_id: int, per_minute: int) -> None:
    """Count one run of ``user_id`` (run now, over the newest objects or the history, or a backtest: one
    count for all) and refuse it (429) past ``per_minute`` (setting RUN_NOW_PER_MINUTE)."""
    count, retry_after = rates.hit("run", user_id)
    if count > per_minute:
        raise RateLimited(f"this is your run-now or backtest request number {count} this minute; the limit is "
                          f"{per_minute} per user per minute (setting RUN_NOW_PER_MINUTE); "
                          f"try again in {retry_after:.0f} s",
                          setting="RUN_NOW_PER_MINUTE", limit=per_minute, retry_after_s=round(retry_after, 1))


def checked_spec(spec: FilterSpec) -> FilterSpec:
    """Resolve a whole SELECT into parts and compile; the checker's refusals (``FilterRejected``,
    400 with its message and position) pass through as they are."""
    if spec.sql:
        if spec.selected or spec.tables or spec.conditions:
            raise FilterRejected("give either sql, or selected/tables/conditions, not both")
        selected, tables, conditions = split_sql(spec.sql)
        spec = spec.model_copy(update={"sql": None, "selected": selected, "tables": tables,
                                       "conditions": conditions})
    if not spec.selected or not spec.tables:
        raise FilterRejected("a filter needs selected (the SELECT list) and tables (the FROM list), "
                             "or one whole sql SELECT statement")
    compiled = compiled_filter(_probe(spec))
    if spec.output != "none" and KEY_COLUMN not in compiled.output_columns:
        raise FilterRejected(f"filters with output {spec.output} must select objects.{KEY_COLUMN}: "
                             "records are keyed by it and lightcurves are attached by it")
    if spec.on_annotation and not compiled.annotators:
        raise FilterRejected("on_annotation needs a filter that joins an annotator "
                             "(add annotator:NAME to tables); otherwise use on_alert")
    return spec

def unsaved_filter(spec: FilterSpec) -> StoredFilter:
    """An ad-hoc query, checked as a save checks it, as a filter to run (never stored)."""
    return _probe(checked_spec(spec))


def _spec_fields(f: StoredFilter) -> dict[str, Any]:
    return {name: getattr(f, name) for name in FilterSpec.model_fields if name != "sql"}


def _stored_fields(spec: FilterSpec) -> dict[str, Any]:
    data = spec.model_dump(exclude={"sql"})
    data["conditions"] = data.get("conditions") or ""
    return data


def _probe(spec: FilterSpec) -> StoredFilter:
    """An unsaved StoredFilter for checking and ad-hoc runs."""
    return StoredFilter(filter_id="adhoc", owner=0, **_stored_fields(spec), created="", modified="")
