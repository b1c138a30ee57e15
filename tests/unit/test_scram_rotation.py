"""A rotated SCRAM secret is picked up by a warm container once the cached one is older than its max age.

The secret is read through powertools parameters (Secrets Manager in moto, in-process) with
``SCRAM_SECRET_MAX_AGE_S``; the clock powertools' cache reads is moved forward instead of
waiting. Before issue 14 the secret was cached for the life of the container (lru_cache).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from moto import mock_aws

from skystream.aws import reset_clients
from skystream.streams.config import SCRAM_SECRET_MAX_AGE_S, KafkaAuth, auth_config, forget_secrets
from skystream.streams.dead_letter import is_infrastructure
from skystream.streams.producer import Producer

pytestmark = pytest.mark.unit


class Clock(dt.datetime):
    """``datetime`` whose ``now()`` runs ``ahead`` of the real one (what powertools' cache compares with)."""

    ahead = dt.timedelta(0)

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> Any:  # type: ignore[override]
        return dt.datetime.now(tz) + cls.ahead


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """Secrets Manager (moto) holding an MSK-shaped SCRAM secret; the functions' settings point at it."""
    for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_REGION": "eu-west-2",
                        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "KAFKA_AUTH": "scram"}.items():
        monkeypatch.setenv(name, value)
    Clock.ahead = dt.timedelta(0)
    monkeypatch.setattr(parameters_base, "datetime", Clock)
    forget_secrets()
    with mock_aws():
        manager = boto3.client("secretsmanager", region_name="eu-west-2")
        arn = manager.create_secret(Name="AmazonMSK_skystream",
                                    SecretString=json.dumps({"username": "alice", "password": "old"}))["ARN"]
        monkeypatch.setenv("KAFKA_SCRAM_SECRET_ARN", arn)
        reset_clients()
        yield manager, arn
    forget_secrets()
    reset_clients()


def _rotate(manager: Any, arn: str, password: str) -> None:
    manager.put_secret_value(SecretId=arn, SecretString=json.dumps({"username": "alice", "password": password}))


def test_within_max_age_the_cached_password_is_used_and_after_it_the_rotated_one(secrets: tuple[Any, str]) -> None:
    manager, arn = secrets
    auth = KafkaAuth(mode="scram", secret_arn=arn, region="eu-west-2")
    assert auth_config(auth)["sasl.password"] == "old"
    _rotate(manager, arn, "new")
    Clock.ahead = dt.timedelta(seconds=SCRAM_SECRET_MAX_AGE_S - 5)
    assert auth_config(auth)["sasl.password"] == "old"  # cached: no Secrets Manager call per client
    Clock.ahead = dt.timedelta(seconds=SCRAM_SECRET_MAX_AGE_S + 5)
    assert auth_config(auth)["sasl.password"] == "new"
    assert SCRAM_SECRET_MAX_AGE_S <= 600  # a rotation reaches every warm container within minutes


def test_a_producer_replaced_after_a_failed_flush_logs_in_with_the_rotated_password(
        secrets: tuple[Any, str]) -> None:
    manager, arn = secrets
    made: list[dict[str, Any]] = []

    class Client:
        def __init__(self, conf: dict[str, Any]) -> None:
            made.append(conf)

        def flush(self, timeout: float = 0) -> int:
            return 1  # a record unacknowledged (what a refused login ends in): the client is replaced

        def purge(self) -> None:
            pass

        def poll(self, timeout: float = 0) -> int:
            return 0

    producer = Producer(client_factory=Client)
    _rotate(manager, arn, "new")
    Clock.ahead = dt.timedelta(seconds=SCRAM_SECRET_MAX_AGE_S + 5)
    with pytest.raises(Exception, match="unacknowledged"):
        producer.flush(0)
    assert [conf["sasl.password"] for conf in made] == ["old", "new"]


def test_a_secret_that_cannot_be_read_is_an_infrastructure_error(secrets: tuple[Any, str]) -> None:
    with pytest.raises(GetParameterError) as info:
        auth_config(KafkaAuth(mode="scram", secret_arn=secrets[1] + "-gone", region="eu-west-2"))
    assert is_infrastructure(info.value)  # the batch is retried, no record is dead-lettered for it
