"""The ingest function's service."""

from __future__ import annotations

from skystream.config import Settings
from skystream.services.ingest import IngestService
from skystream.wiring import archive, objects, per_settings
from skystream.wiring.kafka import internal_producer


@per_settings
def ingest_service(cfg: Settings) -> IngestService:
    return IngestService(internal_producer(), objects(), archive(), enriched_topic=cfg.topic_enriched,
                         dlq_topic=cfg.topic_dlq)
