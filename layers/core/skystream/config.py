"""Settings read from the environment, once per container.

Lambda functions get these from the template's Globals; the local stack sets the
same variables from the same template, so code never asks "am I local?".

What the template sets (:data:`REQUIRED`: the broker, topics, tables, bucket, sender, region)
has no default here: a function that misses one fails at cold start with
:class:`ConfigurationError` naming it, rather than quietly talking to loopback or to a
table of a guessed name. Only the tunables the template leaves alone (the limits of
docs/filters.md, "Limits") have documented defaults. ``AWS_ENDPOINT_URL`` and
``KAFKA_SECURITY_PROTOCOL`` are unset in AWS (the local stack sets them: a loopback endpoint,
SASL without TLS); ``KAFKA_SCRAM_SECRET_ARN`` is empty unless ``KAFKA_AUTH`` is ``scram``;
``KAFKA_USER_SECRETS_KEY`` is empty unless users' credentials are MSK secrets
(``KAFKA_USER_REGISTRY=msk``); ``KAFKA_PUBLIC_BOOTSTRAP_SERVERS`` is empty until the operator
names the cluster's public endpoint (docs/deploy.md, "Public access to the streams").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class ConfigurationError(RuntimeError):
    """A required setting is missing or malformed; the message names the variable to set."""


REQUIRED: tuple[str, ...] = (
    "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_AUTH", "KAFKA_REPLICATION_FACTOR",
    "TOPIC_ALERTS", "TOPIC_ENRICHED", "TOPIC_DLQ", "TOPIC_ANNOTATIONS",
    "OBJECTS_TABLE", "FILTERS_TABLE", "USERS_TABLE", "ANNOTATIONS_TABLE", "CONTEXT_TABLE", "DIGEST_TABLE",
    "QUOTA_TABLE", "WATCHLISTS_TABLE", "ALERTS_BUCKET", "DIGEST_SENDER", "AWS_REGION",
    "KAFKA_USER_REGISTRY", "KAFKA_USER_SECRET_PREFIX", "MSK_CLUSTER_ARN",
    "HISTORY_ENGINE", "HISTORY_CACHE_DIR", "GLUE_DATABASE", "ATHENA_WORKGROUP",
)
"""The variables :func:`settings` needs, each with no default (the template sets them; Lambda sets AWS_REGION)."""


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str
    kafka_auth: str  # none | scram | iam
    kafka_scram_secret_arn: str | None
    topic_alerts: str
    topic_enriched: str
    topic_dlq: str
    topic_annotations: str
    objects_table: str
    filters_table: str
    users_table: str
    annotations_table: str
    context_table: str
    digest_table: str
    quota_table: str
    watchlists_table: str
    alerts_bucket: str
    aws_region: str
    aws_endpoint_url: str | None
    digest_sender: str
    kafka_replication_factor: int  # topics skystream creates; -1 = the broker's default (3 on MSK)
    # Users' stream access (docs/streams.md, "Credentials"; docs/deploy.md, "Public access to the streams").
    kafka_user_registry: str  # msk (Secrets Manager secrets associated with the cluster) | kafka (the Kafka admin API)
    kafka_user_secret_prefix: str  # name prefix of users' MSK secrets: AmazonMSK_<stack>-
    msk_cluster_arn: str  # the cluster users' MSK secrets are associated with
    # The history (docs/history.md): which engine queries it, where its files are mirrored for a local read,
    # and the Athena side (the template's Glue database and workgroup).
    history_engine: str = ""  # HISTORY_ENGINE: athena (the template) | duckdb (the local stack)
    history_cache_dir: str = ""  # HISTORY_CACHE_DIR: /tmp/history in Lambda; the local stack's temporary directory
    glue_database: str = ""  # GLUE_DATABASE
    athena_workgroup: str = ""  # ATHENA_WORKGROUP
    kafka_user_secrets_key: str | None = None  # the customer-managed KMS key of those secrets (msk only)
    kafka_public_bootstrap_servers: str | None = None  # what users connect to (None: KAFKA_BOOTSTRAP_SERVERS)
    kafka_security_protocol: str | None = None  # None: the auth mode's usual (SASL_SSL); locally SASL_PLAINTEXT
    # Limits: tunables with documented defaults (docs/filters.md, "Limits"), each from the variable named.
    filter_time_limit_s: float = 2.0  # FILTER_TIME_LIMIT_S: one filter on one batch
    match_reserve_s: float = 35.0  # MATCH_RESERVE_S: Lambda time kept back from filters for delivery and flush
    suspend_after_failures: int = 5  # SUSPEND_AFTER_FAILURES: consecutive failing batches
    run_now_deadline_s: float = 10.0  # RUN_NOW_DEADLINE_S: all of one run-now request (API timeout: 29 s)
    max_active_filters_per_user: int = 20  # MAX_ACTIVE_FILTERS_PER_USER
    max_daily_bytes_per_user: int = 20 * 100 * 1024 * 1024  # MAX_DAILY_BYTES_PER_USER: byte quotas of active Kafka filters
    run_now_per_minute: int = 10  # RUN_NOW_PER_MINUTE: run-now requests per user per minute (backtests count too)
    history_deadline_s: float = 25.0  # HISTORY_DEADLINE_S: all of one run-over-all, backtest or lightcurve request
    # The Lasair API's hourly calls per token tier (Lasair's own numbers; docs/api.md, "The Lasair API").
    api_calls_per_hour_anonymous: int = 10  # API_CALLS_PER_HOUR_ANONYMOUS
    api_calls_per_hour_user: int = 100  # API_CALLS_PER_HOUR_USER
    api_calls_per_hour_power: int = 10_000  # API_CALLS_PER_HOUR_POWER


def _number(name: str, default: float, kind: type[int] | type[float]) -> Any:
    """A positive number from the environment (``default`` when unset); malformed -> ConfigurationError."""
    raw = os.environ.get(name, "")
    if raw == "":
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not a {kind.__name__}") from None
    if value <= 0:
        raise ConfigurationError(f"environment variable {name}={raw!r} must be greater than 0")
    return value


def _raw(name: str) -> str:
    value = os.environ.get(name, "")
    if name == "AWS_REGION" and not value:  # boto3's other name for it; Lambda sets both
        value = os.environ.get("AWS_DEFAULT_REGION", "")
    return value


def _check_required() -> None:
    """Every variable of :data:`REQUIRED` is set; else one error naming all that are not."""
    missing = [name for name in REQUIRED if not _raw(name)]
    if missing:
        names, many = ", ".join(missing), len(missing) > 1
        raise ConfigurationError(
            f"environment variable{'s' if many else ''} {names} {'are' if many else 'is'} not set; "
            "infra/template.yaml sets each for every function (Globals) and the local stack sets them from there: "
            f"set {'them' if many else 'it'}, or run through `skystream up`")


def _env(name: str) -> str:
    value = _raw(name)
    if not value:
        _check_required()
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


HISTORY_ENGINES = ("athena", "duckdb")


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    value = _env(name).lower()
    if value not in allowed:
        raise ConfigurationError(f"environment variable {name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _integer(name: str) -> int:
    raw = _env(name)
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not an integer") from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings. Call ``settings.cache_clear()`` after changing the environment."""
    _check_required()
    return Settings(
        kafka_bootstrap_servers=_env("KAFKA_BOOTSTRAP_SERVERS"),
        kafka_auth=_env("KAFKA_AUTH").lower(),
        kafka_scram_secret_arn=os.environ.get("KAFKA_SCRAM_SECRET_ARN") or None,
        topic_alerts=_env("TOPIC_ALERTS"),
        topic_enriched=_env("TOPIC_ENRICHED"),
        topic_dlq=_env("TOPIC_DLQ"),
        topic_annotations=_env("TOPIC_ANNOTATIONS"),
        objects_table=_env("OBJECTS_TABLE"),
        filters_table=_env("FILTERS_TABLE"),
        users_table=_env("USERS_TABLE"),
        annotations_table=_env("ANNOTATIONS_TABLE"),
        context_table=_env("CONTEXT_TABLE"),
        digest_table=_env("DIGEST_TABLE"),
        quota_table=_env("QUOTA_TABLE"),
        watchlists_table=_env("WATCHLISTS_TABLE"),
        alerts_bucket=_env("ALERTS_BUCKET"),
        aws_region=_env("AWS_REGION"),
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        digest_sender=_env("DIGEST_SENDER"),
        kafka_replication_factor=_integer("KAFKA_REPLICATION_FACTOR"),
        kafka_user_registry=_env("KAFKA_USER_REGISTRY").lower(),
        kafka_user_secret_prefix=_env("KAFKA_USER_SECRET_PREFIX"),
        msk_cluster_arn=_env("MSK_CLUSTER_ARN"),
        history_engine=_choice("HISTORY_ENGINE", HISTORY_ENGINES),
        history_cache_dir=_env("HISTORY_CACHE_DIR"),
        glue_database=_env("GLUE_DATABASE"),
        athena_workgroup=_env("ATHENA_WORKGROUP"),
        kafka_user_secrets_key=os.environ.get("KAFKA_USER_SECRETS_KEY") or None,
        kafka_public_bootstrap_servers=os.environ.get("KAFKA_PUBLIC_BOOTSTRAP_SERVERS") or None,
        kafka_security_protocol=os.environ.get("KAFKA_SECURITY_PROTOCOL") or None,
        filter_time_limit_s=_number("FILTER_TIME_LIMIT_S", Settings.filter_time_limit_s, float),
        match_reserve_s=_number("MATCH_RESERVE_S", Settings.match_reserve_s, float),
        suspend_after_failures=_number("SUSPEND_AFTER_FAILURES", Settings.suspend_after_failures, int),
        run_now_deadline_s=_number("RUN_NOW_DEADLINE_S", Settings.run_now_deadline_s, float),
        max_active_filters_per_user=_number("MAX_ACTIVE_FILTERS_PER_USER", Settings.max_active_filters_per_user, int),
        max_daily_bytes_per_user=_number("MAX_DAILY_BYTES_PER_USER", Settings.max_daily_bytes_per_user, int),
        run_now_per_minute=_number("RUN_NOW_PER_MINUTE", Settings.run_now_per_minute, int),
        history_deadline_s=_number("HISTORY_DEADLINE_S", Settings.history_deadline_s, float),
        api_calls_per_hour_anonymous=_number("API_CALLS_PER_HOUR_ANONYMOUS", Settings.api_calls_per_hour_anonymous,
                                             int),
        api_calls_per_hour_user=_number("API_CALLS_PER_HOUR_USER", Settings.api_calls_per_hour_user, int),
        api_calls_per_hour_power=_number("API_CALLS_PER_HOUR_POWER", Settings.api_calls_per_hour_power, int),
    )
