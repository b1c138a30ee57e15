"""Users' credentials as MSK secrets. Secrets Manager and KMS are moto (in process); moto has no MSK SCRAM API
(BatchAssociateScramSecret, BatchDisassociateScramSecret, ListScramSecrets), so the kafka client is botocore's
Stubber: it checks each request against the real service model and the expected parameters, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from skystream.config import ConfigurationError
from skystream.domain.errors import Unavailable
from skystream.streams.msk_users import MskScramSecrets

CLUSTER = "arn:aws:kafka:us-east-1:123456789012:cluster/skystream/0000-1"
PREFIX = "AmazonMSK_mystack-"


class Aws:
    def __init__(self) -> None:
        self.secrets = boto3.client("secretsmanager", region_name="us-east-1")
        self.key = boto3.client("kms", region_name="us-east-1").create_key(Description="users")["KeyMetadata"]["Arn"]
        self.kafka = boto3.client("kafka", region_name="us-east-1")
        self.stub = Stubber(self.kafka)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.kafka.meta.events.register("provide-client-params.kafka.*", self._record)
        self.stub.activate()

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.sent.append((model.name, dict(params)))

    def users(self) -> MskScramSecrets:
        return MskScramSecrets(CLUSTER, self.key, PREFIX, secretsmanager=self.secrets, kafka=self.kafka)

    def listed(self, *arns: str) -> None:
        self.stub.add_response("list_scram_secrets", {"SecretArnList": list(arns)}, {"ClusterArn": CLUSTER})

    def batch(self, operation: str, unprocessed: list[dict[str, str]] | None = None) -> None:
        self.stub.add_response(operation, {"ClusterArn": CLUSTER, "UnprocessedScramSecrets": unprocessed or []},
                               {"ClusterArn": CLUSTER, "SecretArnList": [ANY]})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield Aws()


def test_a_new_user_gets_a_secret_with_the_stacks_key_associated_with_the_cluster(aws: Aws) -> None:
    aws.batch("batch_associate_scram_secret")
    aws.users().set_password("user-1", "first")
    aws.stub.assert_no_pending_responses()
    described = aws.secrets.describe_secret(SecretId="AmazonMSK_mystack-user-1")
    assert described["KmsKeyId"] == aws.key and described["Name"].startswith("AmazonMSK_")
    value = json.loads(aws.secrets.get_secret_value(SecretId=described["ARN"])["SecretString"])
    assert value == {"username": "user-1", "password": "first"}
    assert aws.sent == [("BatchAssociateScramSecret", {"ClusterArn": CLUSTER, "SecretArnList": [described["ARN"]]})]


def test_rotation_puts_a_new_value_and_associates_only_what_is_not(aws: Aws) -> None:
    aws.batch("batch_associate_scram_secret")
    aws.users().set_password("user-1", "first")
    arn = aws.secrets.describe_secret(SecretId="AmazonMSK_mystack-user-1")["ARN"]
    aws.sent.clear()
    aws.listed(arn)  # associated: a new value is all it takes
    aws.users().set_password("user-1", "second")
    assert aws.sent == [("ListScramSecrets", {"ClusterArn": CLUSTER})]
    assert json.loads(aws.secrets.get_secret_value(SecretId=arn)["SecretString"])["password"] == "second"
    aws.sent.clear()
    aws.listed()  # an association that failed half-way: made now
    aws.batch("batch_associate_scram_secret")
    aws.users().set_password("user-1", "third")
    assert [name for name, _ in aws.sent] == ["ListScramSecrets", "BatchAssociateScramSecret"]
    aws.stub.assert_no_pending_responses()


def test_removal_disassociates_then_deletes_for_good_and_a_second_removal_is_false(aws: Aws) -> None:
    aws.batch("batch_associate_scram_secret")
    aws.users().set_password("user-1", "first")
    arn = aws.secrets.describe_secret(SecretId="AmazonMSK_mystack-user-1")["ARN"]
    aws.sent.clear()
    aws.listed(arn)
    aws.batch("batch_disassociate_scram_secret")
    assert aws.users().remove("user-1") is True
    assert aws.sent == [("ListScramSecrets", {"ClusterArn": CLUSTER}),
                        ("BatchDisassociateScramSecret", {"ClusterArn": CLUSTER, "SecretArnList": [arn]})]
    with pytest.raises(aws.secrets.exceptions.ResourceNotFoundException):
        aws.secrets.describe_secret(SecretId="AmazonMSK_mystack-user-1")
    aws.sent.clear()
    assert aws.users().remove("user-1") is False and aws.sent == []
    aws.stub.assert_no_pending_responses()


def test_msk_refusing_the_association_is_unavailable_naming_its_error(aws: Aws) -> None:
    aws.batch("batch_associate_scram_secret", [{"SecretArn": "x", "ErrorCode": "InvalidSecretKmsKey",
                                                "ErrorMessage": "the key is AWS managed"}])
    with pytest.raises(Unavailable, match="InvalidSecretKmsKey: the key is AWS managed"):
        aws.users().set_password("user-1", "first")


def test_msk_secrets_need_the_prefix_and_a_customer_managed_key(aws: Aws) -> None:
    with pytest.raises(ConfigurationError, match="must start with it"):
        MskScramSecrets(CLUSTER, aws.key, "mystack-", secretsmanager=aws.secrets, kafka=aws.kafka)
    with pytest.raises(ConfigurationError, match="KAFKA_USER_SECRETS_KEY"):
        MskScramSecrets(CLUSTER, None, PREFIX, secretsmanager=aws.secrets, kafka=aws.kafka)
