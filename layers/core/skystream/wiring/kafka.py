"""The Kafka clients the functions share: producers (one per kind per container), dead letters, topic admin, ACLs."""

from __future__ import annotations

from skystream.alerts.enriched import MAX_RECORD_BYTES
from skystream.config import Settings
from skystream.streams.acls import KafkaAcls
from skystream.streams.admin import TopicAdmin
from skystream.streams.config import client_config
from skystream.streams.dead_letter import DeadLetters
from skystream.streams.producer import Producer, output_producer, shared_producer
from skystream.streams.tail import TopicReader
from skystream.wiring import per_settings


def internal_producer() -> Producer:
    """Enriched records and dead letters: sized for an enriched record."""
    return shared_producer(max_record_bytes=MAX_RECORD_BYTES)


def users_topics_producer() -> Producer:
    """Users' topics: never creates a topic by producing to it (``streams.producer.output_producer``)."""
    return output_producer()


def default_producer() -> Producer:
    """Annotation events: the default record size limit."""
    return shared_producer()


@per_settings
def dead_letters(cfg: Settings) -> DeadLetters:
    return DeadLetters(internal_producer(), cfg.topic_dlq)


@per_settings
def topics(cfg: Settings) -> TopicAdmin:
    return TopicAdmin()


@per_settings
def acls(cfg: Settings) -> KafkaAcls:
    return KafkaAcls()


@per_settings
def topic_reader(cfg: Settings) -> TopicReader:
    """Reads users' topics for the web page's stream view, with the functions' own Kafka auth."""
    return TopicReader(lambda: client_config(cfg))
