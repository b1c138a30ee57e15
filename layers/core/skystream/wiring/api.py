"""The API function's services (the routes also use the stores of :mod:`skystream.wiring`)."""

from __future__ import annotations

from skystream.config import Settings
from skystream.services.annotations import AnnotationService, KafkaEventPublisher
from skystream.services.filter_records import FilterRecords
from skystream.services.filters import FilterLimits, FilterService
from skystream.services.objects import ObjectReads
from skystream.wiring import annotations, annotators, context, filters, objects, per_settings, rates
from skystream.wiring.kafka import default_producer, topic_reader, topics
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
    return ObjectReads(objects=objects(), annotations=annotations(), context=context())


@per_settings
def filter_records(cfg: Settings) -> FilterRecords:
    return FilterRecords(filters(), topic_reader())
