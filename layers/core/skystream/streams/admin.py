"""Topic lifecycle: create with retention, delete, list. Waits for the broker's answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from skystream.config import settings
from skystream.streams.config import client_config

SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000


def admin_client(config: dict[str, Any] | None = None) -> AdminClient:
    """An admin client of the functions' cluster (from the settings), or of the one ``config`` describes."""
    config = client_config() if config is None else config
    client = AdminClient(config)
    if "oauth_cb" in config:
        client.poll(0)  # librdkafka fetches the MSK IAM token from poll(): do it before the first request
    return client


class TopicAdmin:
    def __init__(self, client: AdminClient | None = None, *, config: dict[str, Any] | None = None):
        """The functions' cluster (from the settings), or the one ``config`` describes (``cluster_config``)."""
        self._admin = client if client is not None else admin_client(config)

    def list_topics(self, timeout: float = 10.0) -> set[str]:
        return {t for t in self._admin.list_topics(timeout=timeout).topics if not t.startswith("__")}

    def exists(self, topic: str) -> bool:
        return topic in self.list_topics()

    def partitions(self, timeout: float = 10.0) -> dict[str, int]:
        """Each topic's partition count (the broker's internal ``__`` topics left out)."""
        topics = self._admin.list_topics(timeout=timeout).topics
        return {name: len(meta.partitions) for name, meta in topics.items() if not name.startswith("__")}

    def retention_ms(self, topics: Iterable[str]) -> dict[str, int | None]:
        """Each topic's ``retention.ms`` as the broker reports it (None when it reports none)."""
        resources = [ConfigResource("topic", name) for name in topics]
        if not resources:
            return {}
        found: dict[str, int | None] = {}
        for resource, future in self._admin.describe_configs(resources, request_timeout=15).items():
            entry = future.result().get("retention.ms")
            found[resource.name] = int(entry.value) if entry is not None and entry.value is not None else None
        return found

    def create(
        self,
        topics: Iterable[str],
        *,
        partitions: int = 1,
        retention_ms: int | None = SEVEN_DAYS_MS,
        exist_ok: bool = True,
        replication_factor: int | None = None,
    ) -> None:
        """Create topics; ``replication_factor`` defaults to ``KAFKA_REPLICATION_FACTOR`` (-1: the broker's default)."""
        config = {"retention.ms": str(retention_ms)} if retention_ms else {}
        factor = settings().kafka_replication_factor if replication_factor is None else replication_factor
        new = [NewTopic(t, num_partitions=partitions, replication_factor=factor, config=config) for t in topics]
        if not new:
            return
        _wait(self._admin.create_topics(new, operation_timeout=15), "TOPIC_ALREADY_EXISTS" if exist_ok else None)

    def delete(self, topics: Iterable[str], *, missing_ok: bool = True) -> None:
        names = list(topics)
        if not names:
            return
        _wait(self._admin.delete_topics(names, operation_timeout=15), "UNKNOWN_TOPIC_OR_PART" if missing_ok else None)


def _wait(futures: Mapping[str, Future], tolerated: str | None) -> None:
    """Wait for every topic's answer; an error named ``tolerated`` (already there, already gone) is success."""
    for future in futures.values():
        try:
            future.result()
        except KafkaException as exc:
            if tolerated is None or exc.args[0].name() != tolerated:
                raise
