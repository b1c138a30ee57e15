"""The API function's services (the routes also use the stores of :mod:`skystream.wiring`)."""

from __future__ import annotations

from skystream.config import Settings, settings
from skystream.services.annotations import AnnotationService, KafkaEventPublisher
from skystream.services.api_quota import ApiQuota, HourlyLimits
from skystream.services.cone import ConeSearch
from skystream.services.filters import FilterLimits, FilterService
from skystream.services.objects import ObjectReads
from skystream.services.sherlock import SherlockContext
from skystream.wiring import annotations, annotators, archive, context, filters, objects, per_settings, rates
from skystream.wiring.kafka import default_producer, topics
from skystream.wiring.matching import joins, matcher


@per_settings
def filter_service(cfg: Settings) -> FilterService:
    return FilterService(filters(), topics=topics(), objects=objects(), matcher=matcher(), joins=joins(),
                         rates=rates(), limits=FilterLimits.of(cfg))


@per_settings
def annotation_service(cfg: Settings) -> AnnotationService:
    return AnnotationService(annotations(), annotators(), KafkaEventPublisher(default_producer(),
                                                                              cfg.topic_annotations))


@per_settings
def object_reads(cfg: Settings) -> ObjectReads:
    return ObjectReads(objects=objects(), annotations=annotations(), context=context(), archive=archive())


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
