"""Running filters: the matcher function, the annotation function, and the reseed after a save."""

from __future__ import annotations

from skystream.config import Settings
from skystream.filters.engine import SqliteEngine
from skystream.outputs.base import Outputs
from skystream.outputs.email import EmailOutput
from skystream.outputs.kafka import KafkaOutput
from skystream.services.annotation_trigger import AnnotationTrigger
from skystream.services.digest.send import SesMailer
from skystream.services.joins import Joins
from skystream.services.matching import EnrichedMatcher, Matcher
from skystream.services.suspension import SuspensionMailer, Suspensions
from skystream.services.watchlists import WatchlistMatcher
from skystream.services.watchmaps import WatchmapMatcher
from skystream.wiring import (
    annotations,
    archive,
    context,
    digests,
    filters,
    objects,
    per_settings,
    quota,
    users,
    watchlists,
    watchmaps,
)
from skystream.wiring.kafka import dead_letters, users_topics_producer


@per_settings
def joins(cfg: Settings) -> Joins:
    return Joins(annotations=annotations(), context=context(), watchlists=watchlist_matcher(),
                 watchmaps=watchmap_matcher())


@per_settings
def watchlist_matcher(cfg: Settings) -> WatchlistMatcher:
    """The process's watchlist indexes, kept between batches (services/watchlists.py)."""
    return WatchlistMatcher(watchlists())


@per_settings
def watchmap_matcher(cfg: Settings) -> WatchmapMatcher:
    """The process's watchmap MOCs, kept between batches (services/watchmaps.py)."""
    return WatchmapMatcher(watchmaps())


@per_settings
def matcher(cfg: Settings) -> Matcher:
    """Filters run and delivered: SQLite engine, joined tables, Kafka and email outputs, suspension."""
    outputs = Outputs.of(kafka=KafkaOutput(users_topics_producer(), quota(), archive()),
                         email=EmailOutput(digests()))
    health = Suspensions(filters(), notify=SuspensionMailer(users(), SesMailer(), cfg.digest_sender),
                         after=cfg.suspend_after_failures)
    return Matcher(engine=SqliteEngine(time_limit_s=cfg.filter_time_limit_s), joins=joins(), outputs=outputs,
                   health=health)


@per_settings
def enriched_matcher(cfg: Settings) -> EnrichedMatcher:
    return EnrichedMatcher(filters=filters(), matcher=matcher(), dead_letters=dead_letters())


@per_settings
def annotation_trigger(cfg: Settings) -> AnnotationTrigger:
    return AnnotationTrigger(filters=filters(), objects=objects(), matcher=matcher(), dead_letters=dead_letters())
