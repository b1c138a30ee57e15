"""Reading a filter's topic, the way Lasair's sample program does.

``lasair_consumer(kafka_server, group_id, topic)`` returns a subscribed
``confluent_kafka.Consumer``. A ``group_id`` the broker has never seen starts at the
earliest record still kept (topics keep 7 days); a known ``group_id`` resumes after the
last record it committed, so a program run every hour with one group id sees each
record once. Offsets are committed automatically as records are consumed; call
``consumer.close()`` when done so the last ones are committed too.

skystream creates a Kafka filter's topic when the filter is saved, so an empty topic
just gives no records. ``poll`` returning a message whose ``error()`` is
``UNKNOWN_TOPIC_OR_PART`` means there is no such topic (a misspelt name, or a filter
renamed, deleted or switched to a non-Kafka output); on Lasair it also means "no match yet".
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer


def lasair_consumer(kafka_server: str, group_id: str, topic: str, **config: Any) -> Consumer:
    """A consumer of ``topic`` in group ``group_id`` (extra librdkafka settings via ``config``)."""
    settings: dict[str, Any] = {
        "bootstrap.servers": kafka_server,
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "session.timeout.ms": 6000,
        "topic.metadata.refresh.interval.ms": 5000,
    }
    settings.update(config)
    consumer = Consumer(settings)
    consumer.subscribe([topic])
    return consumer
