"""The composition root: every service built from the settings with the real adapters, once per process.

This is the one place that knows which adapter serves which port (``skystream.ports``): the
five handlers (``functions/*/app.py``), the API routes (``skystream.api``) and the command
line (``skystream.cli``) ask it for a service; services never build their own collaborators.
Tests build services with the fakes in ``tests/fakes.py`` instead.

Each service is built on first use and kept for the process (a Lambda container keeps it
between invocations: one Kafka producer, one set of boto3 clients). It is kept per
:class:`~skystream.config.Settings` value, so a process whose environment changed (and that
called ``settings.cache_clear()``) gets services for the new one; :func:`reset` drops them
all, which the local stack calls when it points the process elsewhere or wipes its tables
(a store remembers what it already wrote, e.g. the nights that hold objects).

A missing or malformed variable fails the first call with :class:`~skystream.config.ConfigurationError`
naming it; the handlers make that call at import, so it fails the cold start.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from skystream.alerts.enriched import MAX_RECORD_BYTES
from skystream.config import Settings, settings
from skystream.filters.engine import SqliteEngine
from skystream.outputs.base import Outputs
from skystream.outputs.email import EmailOutput
from skystream.outputs.kafka import KafkaOutput
from skystream.services.annotation_trigger import AnnotationTrigger
from skystream.services.annotations import AnnotationService, KafkaEventPublisher
from skystream.services.digest.send import DigestSender, SesMailer, recipients_of
from skystream.services.filters import FilterLimits, FilterService
from skystream.services.ingest import IngestService
from skystream.services.joins import Joins
from skystream.services.matching import EnrichedMatcher, Matcher
from skystream.services.objects import ObjectReads
from skystream.services.suspension import SuspensionMailer, Suspensions
from skystream.storage.annotations import AnnotationStore
from skystream.storage.annotators import AnnotatorRegistry
from skystream.storage.archive import AlertArchive
from skystream.storage.context import ContextStore
from skystream.storage.digest import DigestStore
from skystream.storage.filters import FilterStore
from skystream.storage.objects import ObjectStore
from skystream.storage.quota import QuotaStore
from skystream.storage.rates import RateStore
from skystream.storage.users import UserStore
from skystream.streams.admin import TopicAdmin
from skystream.streams.dead_letter import DeadLetters
from skystream.streams.producer import Producer, output_producer, shared_producer

T = TypeVar("T")
_CACHES: list[Any] = []


def _per_settings(build: Callable[[Settings], T]) -> Callable[[], T]:
    """``build(settings())``, built once per process and settings value (see the module docstring)."""
    cached = lru_cache(maxsize=2)(build)
    _CACHES.append(cached)

    @wraps(build)
    def get() -> T:
        return cached(settings())

    return get


def reset() -> None:
    """Forget every service and re-read the environment: the next call builds afresh."""
    settings.cache_clear()
    for cached in _CACHES:
        cached.cache_clear()


# -- adapters ------------------------------------------------------------------------------------


def internal_producer() -> Producer:
    """Enriched records and dead letters: sized for an enriched record (one per container)."""
    return shared_producer(max_record_bytes=MAX_RECORD_BYTES)


@_per_settings
def objects(cfg: Settings) -> ObjectStore:
    return ObjectStore(cfg.objects_table)


@_per_settings
def archive(cfg: Settings) -> AlertArchive:
    return AlertArchive(cfg.alerts_bucket)


@_per_settings
def filters(cfg: Settings) -> FilterStore:
    return FilterStore(cfg.filters_table)


@_per_settings
def users(cfg: Settings) -> UserStore:
    return UserStore(cfg.users_table)


@_per_settings
def annotators(cfg: Settings) -> AnnotatorRegistry:
    return AnnotatorRegistry(cfg.users_table)


@_per_settings
def annotations(cfg: Settings) -> AnnotationStore:
    return AnnotationStore(cfg.annotations_table)


@_per_settings
def context(cfg: Settings) -> ContextStore:
    return ContextStore(cfg.context_table)


@_per_settings
def digests(cfg: Settings) -> DigestStore:
    return DigestStore(cfg.digest_table)


@_per_settings
def dead_letters(cfg: Settings) -> DeadLetters:
    return DeadLetters(internal_producer(), cfg.topic_dlq)


@_per_settings
def topics(cfg: Settings) -> TopicAdmin:
    return TopicAdmin()


# -- services ------------------------------------------------------------------------------------


@_per_settings
def ingest_service(cfg: Settings) -> IngestService:
    return IngestService(internal_producer(), objects(), archive(), enriched_topic=cfg.topic_enriched,
                         dlq_topic=cfg.topic_dlq)


@_per_settings
def joins(cfg: Settings) -> Joins:
    return Joins(annotations=annotations(), context=context())


@_per_settings
def matcher(cfg: Settings) -> Matcher:
    """Filters run and delivered: SQLite engine, joined tables, Kafka and email outputs, suspension."""
    outputs = Outputs.of(kafka=KafkaOutput(output_producer(), QuotaStore(cfg.quota_table), archive()),
                         email=EmailOutput(digests()))
    health = Suspensions(filters(), notify=SuspensionMailer(users(), SesMailer(), cfg.digest_sender),
                         after=cfg.suspend_after_failures)
    return Matcher(engine=SqliteEngine(time_limit_s=cfg.filter_time_limit_s), joins=joins(), outputs=outputs,
                   health=health)


@_per_settings
def enriched_matcher(cfg: Settings) -> EnrichedMatcher:
    return EnrichedMatcher(filters=filters(), matcher=matcher(), dead_letters=dead_letters())


@_per_settings
def annotation_trigger(cfg: Settings) -> AnnotationTrigger:
    return AnnotationTrigger(filters=filters(), objects=objects(), matcher=matcher(), dead_letters=dead_letters())


@_per_settings
def annotation_service(cfg: Settings) -> AnnotationService:
    return AnnotationService(annotations(), annotators(), KafkaEventPublisher(shared_producer(), cfg.topic_annotations))


@_per_settings
def filter_service(cfg: Settings) -> FilterService:
    return FilterService(filters(), topics=topics(), objects=objects(), matcher=matcher(), joins=joins(),
                         rates=RateStore(cfg.quota_table), limits=FilterLimits.of(cfg))


@_per_settings
def digest_sender(cfg: Settings) -> DigestSender:
    return DigestSender(store=digests(), recipients=recipients_of(users()), mailer=SesMailer(),
                        sender=cfg.digest_sender)


@_per_settings
def object_reads(cfg: Settings) -> ObjectReads:
    return ObjectReads(objects=objects(), annotations=annotations(), context=context())
