"""The composition root: every service built from the settings with the real adapters, once per process.

This package is the one place that knows which adapter serves which port (``skystream.ports``):
the five handlers (``functions/*/app.py``), the API routes (``skystream.api``) and the command
line (``skystream.cli``) ask it for a service; services never build their own collaborators.
Tests build services with the fakes in ``tests/fakes.py`` instead.

What a function needs is in its own module, so a handler imports only its own adapters:
``wiring.ingest`` (ingest), ``wiring.matching`` (matcher, annotation trigger, the reseed),
``wiring.digest`` (daily email), ``wiring.api`` (filter lifecycle, uploads, object reads);
the stores are here and the Kafka clients in ``wiring.kafka``. Measured (a fresh interpreter
importing powertools and what the handler's service needs): ingest 0.25 s and digest 0.21 s,
against 0.43 s when every handler imported every service and adapter.

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

from skystream.config import Settings, settings
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
from skystream.storage.watchlists import WatchlistStore
from skystream.storage.watchmaps import WatchmapStore

T = TypeVar("T")
_CACHES: list[Any] = []


def per_settings(build: Callable[[Settings], T]) -> Callable[[], T]:
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


# -- the stores ----------------------------------------------------------------------------------


@per_settings
def objects(cfg: Settings) -> ObjectStore:
    return ObjectStore(cfg.objects_table, archive())


@per_settings
def archive(cfg: Settings) -> AlertArchive:
    return AlertArchive(cfg.alerts_bucket)


@per_settings
def filters(cfg: Settings) -> FilterStore:
    return FilterStore(cfg.filters_table)


@per_settings
def users(cfg: Settings) -> UserStore:
    return UserStore(cfg.users_table)


@per_settings
def annotators(cfg: Settings) -> AnnotatorRegistry:
    return AnnotatorRegistry(cfg.users_table)


@per_settings
def annotations(cfg: Settings) -> AnnotationStore:
    return AnnotationStore(cfg.annotations_table)


@per_settings
def context(cfg: Settings) -> ContextStore:
    return ContextStore(cfg.context_table)


@per_settings
def digests(cfg: Settings) -> DigestStore:
    return DigestStore(cfg.digest_table)


@per_settings
def quota(cfg: Settings) -> QuotaStore:
    return QuotaStore(cfg.quota_table)


@per_settings
def rates(cfg: Settings) -> RateStore:
    return RateStore(cfg.quota_table)


@per_settings
def watchlists(cfg: Settings) -> WatchlistStore:
    return WatchlistStore(cfg.watchlists_table)


@per_settings
def watchmaps(cfg: Settings) -> WatchmapStore:
    """Watchmaps live in the watchlists table, under their own keys (storage/watchmaps.py)."""
    return WatchmapStore(cfg.watchlists_table)
