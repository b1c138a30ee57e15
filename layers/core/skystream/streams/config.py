"""librdkafka configuration for the three ways skystream reaches a broker.

``none``  plaintext (the local stack, or a VPC-private MSK listener on 9092);
``scram`` SASL + SCRAM-SHA-512 (MSK SCRAM on 9096, or Rubin's upstream stream), credentials
          either given (the relay's command line) or read from Secrets Manager (Lambda) through
          powertools parameters, cached for :data:`SCRAM_SECRET_MAX_AGE_S`: a warm container
          picks up a rotated password in the clients it makes after that (each admin client, and
          a producer replaced after a failed flush);
``iam``   SASL_SSL + OAUTHBEARER with an MSK IAM token signed by the caller's AWS credentials
          (``aws-msk-iam-sasl-signer-python``; MSK's IAM listener on 9098).

Building a configuration needs no network: the secret is read through a callable that tests
replace, and the IAM token is produced only when librdkafka calls ``oauth_cb``. librdkafka
calls it from ``poll()``/``flush()``, so a client must be polled once before it can connect
(the producer and the admin client here do).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

from skystream.aws import client
from skystream.config import ConfigurationError, Settings, settings

AuthMode = Literal["none", "scram", "iam"]
AUTH_MODES: tuple[str, ...] = ("none", "scram", "iam")
SCRAM_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SCRAM_SECRET_MAX_AGE_S = 300
"""How long a container uses the SCRAM secret it read before reading it again (seconds). Rotation
(Secrets Manager keeps the old password valid for a while) needs no restart: within five minutes
every new client logs in with the new password."""

SecretReader = Callable[[str, str], tuple[str, str]]
TokenProvider = Callable[[str], tuple[str, int]]


@dataclass(frozen=True)
class KafkaAuth:
    """How to authenticate to one cluster. ``security_protocol`` None means the mode's usual one."""

    mode: AuthMode = "none"
    security_protocol: str | None = None
    scram_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    secret_arn: str | None = None
    region: str = "us-east-1"

    def protocol(self) -> str:
        if self.security_protocol:
            return self.security_protocol
        return "PLAINTEXT" if self.mode == "none" else "SASL_SSL"

    def __repr__(self) -> str:  # never print a password
        return (
            f"KafkaAuth(mode={self.mode!r}, protocol={self.protocol()!r}, mechanism={self.scram_mechanism!r}, "
            f"username={self.username!r}, secret_arn={self.secret_arn!r})"
        )


@lru_cache(maxsize=4)
def _secrets(secretsmanager: Any) -> SecretsProvider:
    """One powertools provider, and so one cache, per boto3 client (a new endpoint or region: a new one)."""
    return SecretsProvider(boto3_client=secretsmanager)


def read_scram_secret(secret_arn: str, region: str) -> tuple[str, str]:
    """``{"username": ..., "password": ...}`` from Secrets Manager (the shape MSK SCRAM secrets have),
    at most :data:`SCRAM_SECRET_MAX_AGE_S` old. A secret that cannot be read raises powertools'
    ``GetParameterError`` (an infrastructure error: the batch is retried)."""
    provider = _secrets(client("secretsmanager"))
    try:
        body = provider.get(secret_arn, max_age=SCRAM_SECRET_MAX_AGE_S, transform="json")
        return str(body["username"]), str(body["password"])  # type: ignore[index]
    except (TransformParameterError, KeyError, TypeError) as exc:  # not JSON, not an object, a key missing
        raise ConfigurationError(
            f"secret {secret_arn} must be a JSON object with 'username' and 'password' (as MSK SCRAM secrets are)"
        ) from exc


def forget_secrets() -> None:
    """Drop every cached secret (tests; in a container they expire after SCRAM_SECRET_MAX_AGE_S)."""
    _secrets.cache_clear()


def msk_iam_token(region: str) -> tuple[str, int]:
    """An MSK IAM auth token and its expiry (ms since the epoch), signed with the caller's AWS credentials."""
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ImportError as exc:
        raise ConfigurationError(
            "KAFKA_AUTH=iam needs the package aws-msk-iam-sasl-signer-python (pip install -e .; the layer has it)"
        ) from exc
    return MSKAuthTokenProvider.generate_auth_token(region)


def oauth_callback(region: str, provider: TokenProvider | None = None) -> Callable[[str], tuple[str, float]]:
    """librdkafka's ``oauth_cb``: called with the ``sasl.oauthbearer.config`` string, returns (token, expiry s)."""

    def callback(_oauthbearer_config: str) -> tuple[str, float]:
        token, expiry_ms = (provider or msk_iam_token)(region)
        return token, expiry_ms / 1000

    return callback


def auth_config(
    auth: KafkaAuth,
    *,
    secret_reader: SecretReader | None = None,
    token_provider: TokenProvider | None = None,
) -> dict[str, Any]:
    """The librdkafka properties for ``auth`` (no bootstrap servers). Raises ConfigurationError naming the fix."""
    if auth.mode not in AUTH_MODES:
        raise ConfigurationError(f"Kafka auth {auth.mode!r} is not one of {', '.join(AUTH_MODES)} (KAFKA_AUTH)")
    protocol = auth.protocol()
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigurationError(f"security protocol {protocol!r} is not one of {', '.join(SECURITY_PROTOCOLS)}")
    if auth.mode == "none":
        if protocol.startswith("SASL"):
            raise ConfigurationError(f"security protocol {protocol} needs an auth mode (scram or iam), not none")
        return {} if protocol == "PLAINTEXT" else {"security.protocol": protocol}
    if not protocol.startswith("SASL"):
        raise ConfigurationError(f"auth {auth.mode} needs SASL_SSL or SASL_PLAINTEXT, not {protocol}")
    if auth.mode == "scram":
        if auth.scram_mechanism not in SCRAM_MECHANISMS:
            raise ConfigurationError(f"SCRAM mechanism {auth.scram_mechanism!r} is not one of {SCRAM_MECHANISMS}")
        if auth.username and auth.password is not None:
            username, password = auth.username, auth.password
        elif auth.secret_arn:
            username, password = (secret_reader or read_scram_secret)(auth.secret_arn, auth.region)
        else:
            raise ConfigurationError(
                "SASL/SCRAM needs credentials: a username and password, or a Secrets Manager secret "
                "(KAFKA_SCRAM_SECRET_ARN) holding {\"username\", \"password\"}"
            )
        return {
            "security.protocol": protocol,
            "sasl.mechanism": auth.scram_mechanism,
            "sasl.username": username,
            "sasl.password": password,
        }
    return {
        "security.protocol": protocol,
        "sasl.mechanism": "OAUTHBEARER",
        "oauth_cb": oauth_callback(auth.region, token_provider),
    }


def settings_auth(cfg: Settings) -> KafkaAuth:
    """The functions' own cluster auth, from KAFKA_AUTH / KAFKA_SCRAM_SECRET_ARN / AWS_REGION (and
    KAFKA_SECURITY_PROTOCOL, which only the local stack sets: SCRAM without TLS on loopback)."""
    if cfg.kafka_auth not in AUTH_MODES:
        raise ConfigurationError(f"KAFKA_AUTH={cfg.kafka_auth!r} is not one of none, scram, iam")
    if cfg.kafka_auth == "scram" and not cfg.kafka_scram_secret_arn:
        raise ConfigurationError("KAFKA_AUTH=scram needs KAFKA_SCRAM_SECRET_ARN (a Secrets Manager secret)")
    return KafkaAuth(mode=cfg.kafka_auth, secret_arn=cfg.kafka_scram_secret_arn, region=cfg.aws_region,  # type: ignore[arg-type]
                     security_protocol=cfg.kafka_security_protocol)


def functions_principal(cfg: Settings) -> str | None:
    """The Kafka principal the functions act as, when Kafka ACLs apply to it: ``User:<name>`` of their
    SCRAM secret. None with MSK IAM (IAM policies authorize those clients, not ACLs) and with no auth
    (an anonymous client can be given nothing that every anonymous client would not get too)."""
    if cfg.kafka_auth != "scram":
        return None
    return f"User:{client_config(cfg)['sasl.username']}"


def client_config(cfg: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """Base configuration shared by producers, consumers and the admin client of the functions."""
    cfg = cfg or settings()
    return cluster_config(cfg.kafka_bootstrap_servers, settings_auth(cfg), **overrides)


def cluster_config(bootstrap_servers: str, auth: KafkaAuth, **overrides: Any) -> dict[str, Any]:
    """Configuration for any cluster (the relay's upstream and downstream)."""
    if not bootstrap_servers:
        raise ConfigurationError("no bootstrap servers given (host:port[,host:port...])")
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap_servers}
    conf |= auth_config(auth)
    conf.update(overrides)
    return conf
