"""The API function's services (the routes also use the stores of :mod:`skystream.wiring`)."""

from __future__ import annotations

from skystream.config import ConfigurationError, Settings, settings
from skystream.domain.stream_access import FunctionsAccess
from skystream.ports import ScramUsers
from skystream.services.annotations import AnnotationService, KafkaEventPublisher
from skystream.services.api_quota import ApiQuota, HourlyLimits
from skystream.services.cone import ConeSearch
from skystream.services.filter_records import FilterRecords
from skystream.services.filters import FilterLimits, FilterService
from skystream.services.history import HistoryLimits, HistoryService
from skystream.services.objects import ObjectReads
from skystream.services.sherlock import SherlockContext
from skystream.services.stream_access import StreamAccess, StreamEndpoint
from skystream.services.watchlists import WatchlistService
from skystream.services.watchmaps import WatchmapService
from skystream.streams.config import functions_principal
from skystream.streams.msk_users import MskScramSecrets
from skystream.streams.scram_users import KafkaScramUsers
from skystream.wiring import (
    annotations,
    annotators,
    archive,
    context,
    filters,
    objects,
    per_settings,
    rates,
    users,
    watchlists,
    watchmaps,
)
from skystream.wiring.history import history_engine
from skystream.wiring.kafka import acls, default_producer, topic_reader, topics
from skystream.wiring.matching import joins, matcher


@per_settings
def filter_service(cfg: Settings) -> FilterService:
    return FilterService(filters(), topics=topics(), objects=objects(), matcher=matcher(), joins=joins(),
                         rates=rates(), limits=FilterLimits.of(cfg), access=stream_access(), watchlists=watchlists(),
                         watchmaps=watchmaps())


@per_settings
def watchlist_service(cfg: Settings) -> WatchlistService:
    return WatchlistService(watchlists(), objects())


@per_settings
def watchmap_service(cfg: Settings) -> WatchmapService:
    return WatchmapService(watchmaps(), objects())


@per_settings
def scram_users(cfg: Settings) -> ScramUsers:
    """Where users' Kafka credentials live (KAFKA_USER_REGISTRY, the template's UserCredentials)."""
    if cfg.kafka_user_registry == "msk":
        return MskScramSecrets(cfg.msk_cluster_arn, cfg.kafka_user_secrets_key, cfg.kafka_user_secret_prefix)
    if cfg.kafka_user_registry == "kafka":
        return KafkaScramUsers()
    raise ConfigurationError(f"KAFKA_USER_REGISTRY={cfg.kafka_user_registry!r} is not one of msk, kafka")


@per_settings
def stream_access(cfg: Settings) -> StreamAccess:
    who = functions_principal(cfg)
    functions = FunctionsAccess(who, (cfg.topic_alerts, cfg.topic_enriched, cfg.topic_dlq, cfg.topic_annotations)) \
        if who else None
    return StreamAccess(filters=filters(), readers=users(), acls=acls(), users=scram_users(), functions=functions)


@per_settings
def annotation_service(cfg: Settings) -> AnnotationService:
    return AnnotationService(annotations(), annotators(), KafkaEventPublisher(default_producer(),
                                                                              cfg.topic_annotations))


@per_settings
def object_reads(cfg: Settings) -> ObjectReads:
    return ObjectReads(objects=objects(), annotations=annotations(), context=context(), archive=archive())


@per_settings
def stream_endpoint(cfg: Settings) -> StreamEndpoint:
    """The public bootstrap servers when the operator named them (KAFKA_PUBLIC_BOOTSTRAP_SERVERS), else the functions'."""
    return StreamEndpoint(cfg.kafka_public_bootstrap_servers or cfg.kafka_bootstrap_servers,
                          cfg.kafka_security_protocol or "SASL_SSL")


@per_settings
def cone_search(cfg: Settings) -> ConeSearch:
    return ConeSearch(objects())


@per_settings
def sherlock(cfg: Settings) -> SherlockContext:
    return SherlockContext(context(), cone_search())


@per_settings
def api_quota(cfg: Settings) -> ApiQuota:
    return ApiQuota(rates(), HourlyLimits.of(cfg))


def annotations_topic() -> str:
    """The topic accepted annotations are announced on (Lasair's annotate/ answer names it)."""
    return settings().topic_annotations


@per_settings
def filter_records(cfg: Settings) -> FilterRecords:
    return FilterRecords(filters(), topic_reader())


@per_settings
def history_service(cfg: Settings) -> HistoryService:
    return HistoryService(history_engine(), rates=rates(),
                          limits=HistoryLimits(deadline_s=cfg.history_deadline_s, per_minute=cfg.run_now_per_minute))
