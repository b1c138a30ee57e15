"""The history: the writer function's service, the lake adapter, the engine the API queries, compaction.

The engine is chosen by ``HISTORY_ENGINE``: ``athena`` (the template) runs the SQL on Athena over the Glue
tables; ``duckdb`` (the local stack) runs it in process over the files mirrored from the bucket.
"""

from __future__ import annotations

from skystream.aws import client
from skystream.config import ConfigurationError, Settings
from skystream.ports import HistoryEngine
from skystream.services.history_compaction import HistoryCompaction
from skystream.services.history_writer import HistoryWriterService
from skystream.storage.history_athena import AthenaHistory
from skystream.storage.history_duckdb import DuckDbHistory
from skystream.storage.history_lake import HistoryLake
from skystream.wiring import archive, per_settings
from skystream.wiring.kafka import dead_letters


@per_settings
def history_lake(cfg: Settings) -> HistoryLake:
    """The history's files: ``history/`` of the archive bucket, mirrored into ``HISTORY_CACHE_DIR``."""
    return HistoryLake(cfg.alerts_bucket, cfg.history_cache_dir)


@per_settings
def history_writer(cfg: Settings) -> HistoryWriterService:
    return HistoryWriterService(history_lake(), archive(), dead_letters())


@per_settings
def history_compaction(cfg: Settings) -> HistoryCompaction:
    return HistoryCompaction(history_lake())


@per_settings
def history_engine(cfg: Settings) -> HistoryEngine:
    if cfg.history_engine == "athena":
        return AthenaHistory(client("athena"), history_lake(), database=cfg.glue_database,
                             workgroup=cfg.athena_workgroup)
    if cfg.history_engine == "duckdb":
        return DuckDbHistory(history_lake())
    raise ConfigurationError(f"HISTORY_ENGINE={cfg.history_engine!r} is not one of athena, duckdb")
