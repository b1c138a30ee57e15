"""How the developer tools (the demo, the tests' helpers, lag probes) reach a Kafka cluster.

The local stack's broker takes SASL/SCRAM logins only (``skystream.local.broker``). A tool that
talks to the cluster this process is pointed at (the settings' ``KAFKA_BOOTSTRAP_SERVERS``) logs
in as the functions do, with their secret (``KAFKA_SCRAM_SECRET_ARN`` in the local AWS endpoint):
the same path a function takes. Any other address (a bare broker of a test's own) is plaintext.
"""

from __future__ import annotations

from typing import Any

from skystream.config import ConfigurationError, settings
from skystream.streams.config import cluster_config, settings_auth


def client_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """librdkafka settings for ``bootstrap``, with the functions' credentials when it is their cluster."""
    try:
        cfg = settings()
    except ConfigurationError:
        cfg = None
    if cfg is not None and cfg.kafka_bootstrap_servers == bootstrap:
        return cluster_config(bootstrap, settings_auth(cfg), **overrides)
    return {"bootstrap.servers": bootstrap, **overrides}
