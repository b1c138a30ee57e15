"""librdkafka configuration for the three ways skystream reaches a broker.

``none``  plaintext (the local stack, or a VPC-private MSK listener);
``scram`` SASL_SSL + SCRAM-SHA-512, credentials from Secrets Manager (MSK SCRAM, Rubin upstream);
``iam``   SASL_SSL + OAUTHBEARER with an MSK IAM token signed by the function's role.
"""

from __future__ import annotations

import json
from typing import Any

from skystream.config import ConfigurationError, Settings, settings


def _scram_credentials(secret_arn: str, region: str) -> tuple[str, str]:
    import boto3

    secret = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_arn)
    body = json.loads(secret["SecretString"])
    return body["username"], body["password"]


def _msk_iam_token(region: str) -> tuple[str, float]:
    """OAUTHBEARER callback: an MSK IAM token and its expiry in seconds since the epoch."""
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ImportError as exc:  # pragma: no cover - exercised only on AWS with IAM auth
        raise ConfigurationError(
            "KAFKA_AUTH=iam needs the package aws-msk-iam-sasl-signer-python in the layer"
        ) from exc
    token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
    return token, expiry_ms / 1000


def client_config(cfg: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """Base configuration shared by producers, consumers and the admin client."""
    cfg = cfg or settings()
    conf: dict[str, Any] = {"bootstrap.servers": cfg.kafka_bootstrap_servers}
    if cfg.kafka_auth == "none":
        pass
    elif cfg.kafka_auth == "scram":
        if not cfg.kafka_scram_secret_arn:
            raise ConfigurationError("KAFKA_AUTH=scram needs KAFKA_SCRAM_SECRET_ARN (a Secrets Manager secret)")
        user, password = _scram_credentials(cfg.kafka_scram_secret_arn, cfg.aws_region)
        conf |= {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": password,
        }
    elif cfg.kafka_auth == "iam":
        region = cfg.aws_region
        conf |= {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": lambda _config_str: _msk_iam_token(region),
        }
    else:
        raise ConfigurationError(f"KAFKA_AUTH={cfg.kafka_auth!r} is not one of none, scram, iam")
    conf.update(overrides)
    return conf
