"""Kafka client configuration for none / SASL-SCRAM / MSK IAM, built without any network."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from moto import mock_aws

from skystream.aws import reset_clients
from skystream.config import ConfigurationError, settings
from skystream.streams.config import (
    KafkaAuth,
    auth_config,
    client_config,
    cluster_config,
    forget_secrets,
    oauth_callback,
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    """A clean environment for settings(), with dummy AWS credentials (nothing leaves the machine): no auth,
    one loopback broker (settings have no defaults: the test sets what the template would)."""
    for name in ("KAFKA_SCRAM_SECRET_ARN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAFKA_AUTH", "none")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    reset_clients()
    forget_secrets()
    yield monkeypatch
    reset_clients()
    forget_secrets()


def test_none_is_plaintext_with_only_the_bootstrap_servers(env: pytest.MonkeyPatch) -> None:
    env.setenv("KAFKA_BOOTSTRAP_SERVERS", "b1:9092,b2:9092")
    assert client_config() == {"bootstrap.servers": "b1:9092,b2:9092"}
    assert client_config(**{"acks": "all"})["acks"] == "all"


def test_scram_reads_the_secret_from_secrets_manager(env: pytest.MonkeyPatch) -> None:
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="eu-west-2").create_secret(
            Name="AmazonMSK_skystream", SecretString=json.dumps({"username": "alice", "password": "s3cret"})
        )["ARN"]
        env.setenv("KAFKA_AUTH", "scram")
        env.setenv("KAFKA_SCRAM_SECRET_ARN", arn)
        reset_clients()
        conf = client_config()
    assert conf == {
        "bootstrap.servers": "127.0.0.1:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "alice",
        "sasl.password": "s3cret",
    }


def test_scram_without_a_secret_names_the_variable_to_set(env: pytest.MonkeyPatch) -> None:
    env.setenv("KAFKA_AUTH", "scram")
    reset_clients()
    with pytest.raises(ConfigurationError, match="KAFKA_SCRAM_SECRET_ARN"):
        client_config()


def test_a_malformed_secret_says_what_shape_it_needs(env: pytest.MonkeyPatch) -> None:
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="eu-west-2").create_secret(
            Name="AmazonMSK_bad", SecretString=json.dumps({"user": "alice"})
        )["ARN"]
        with pytest.raises(ConfigurationError, match="'username' and 'password'"):
            auth_config(KafkaAuth(mode="scram", secret_arn=arn))


def test_rubin_upstream_is_sasl_plaintext_scram_with_given_credentials() -> None:
    auth = KafkaAuth(mode="scram", security_protocol="SASL_PLAINTEXT", username="broker", password="pw")
    conf = cluster_config("usdf-alert-stream:9094", auth)
    assert conf["security.protocol"] == "SASL_PLAINTEXT"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (conf["sasl.username"], conf["sasl.password"]) == ("broker", "pw")
    assert "pw" not in repr(auth)


def test_an_injected_secret_reader_is_used_instead_of_aws() -> None:
    calls: list[tuple[str, str]] = []

    def reader(arn: str, region: str) -> tuple[str, str]:
        calls.append((arn, region))
        return "u", "p"

    conf = auth_config(KafkaAuth(mode="scram", secret_arn="arn:x", region="us-west-2"), secret_reader=reader)
    assert calls == [("arn:x", "us-west-2")] and conf["sasl.username"] == "u"


def test_iam_uses_oauthbearer_with_a_signed_msk_token(env: pytest.MonkeyPatch) -> None:
    env.setenv("KAFKA_AUTH", "iam")
    reset_clients()
    conf = client_config()
    assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.mechanism"] == "OAUTHBEARER"
    token, expiry_s = conf["oauth_cb"]("ignored oauthbearer config")
    # The token is a base64url presigned URL for kafka-cluster:Connect, signed offline with the credentials.
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    assert parsed.hostname == "kafka.eu-west-2.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("testing/")
    assert expiry_s > 1_600_000_000  # seconds since the epoch, not milliseconds
    assert expiry_s < 10_000_000_000


def test_the_oauth_callback_converts_milliseconds_to_seconds() -> None:
    callback = oauth_callback("ap-south-1", provider=lambda region: (f"token-{region}", 1_900_000_000_000))
    assert callback("") == ("token-ap-south-1", 1_900_000_000.0)


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (KafkaAuth(mode="kerberos"), "not one of none, scram, iam"),  # type: ignore[arg-type]
        (KafkaAuth(mode="none", security_protocol="SASL_SSL"), "needs an auth mode"),
        (KafkaAuth(mode="scram", security_protocol="SSL", username="u", password="p"), "needs SASL_SSL"),
        (KafkaAuth(mode="scram", scram_mechanism="PLAIN", username="u", password="p"), "SCRAM mechanism"),
        (KafkaAuth(mode="scram"), "a username and password, or a Secrets Manager secret"),
        (KafkaAuth(mode="none", security_protocol="TLS"), "security protocol 'TLS'"),
    ],
)
def test_bad_combinations_are_refused_with_the_fix(auth: KafkaAuth, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        auth_config(auth)


def test_settings_with_an_unknown_mode_are_refused(env: pytest.MonkeyPatch) -> None:
    cfg = replace(settings(), kafka_auth="plain")
    with pytest.raises(ConfigurationError, match="KAFKA_AUTH='plain'"):
        client_config(cfg)


def test_tls_without_sasl_is_allowed_for_none() -> None:
    assert auth_config(KafkaAuth(mode="none", security_protocol="SSL")) == {"security.protocol": "SSL"}
