"""Users' SCRAM credentials as Amazon MSK wants them: one Secrets Manager secret per user, named
``AmazonMSK_...``, encrypted with a customer-managed KMS key, associated with the cluster
(``kafka:BatchAssociateScramSecret``). Implements ``skystream.ports.ScramUsers`` for
``UserCredentials=msk``.

- set a password: create the secret ``<prefix><username>`` (``{"username", "password"}``, the
  stack's key) and associate it; for a user who has one, put a new value (and associate it if
  it is not, e.g. after an association that failed half-way);
- remove: disassociate, then delete the secret at once (no recovery window: a re-issue may
  recreate the name straight away, and a revoked password must not be restorable).

MSK syncs associated secrets periodically: a new, rotated or removed password takes effect on
the brokers within about 10 minutes, and removing a secret does not close open connections
(AWS, "Working with users"). That is why ``skystream.services.stream_access`` removes a user's
ACLs before the secret: those take effect at once.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from skystream.aws import client
from skystream.config import ConfigurationError
from skystream.domain.errors import Unavailable

MSK_SECRET_PREFIX = "AmazonMSK_"


class MskScramSecrets:
    def __init__(self, cluster_arn: str, kms_key: str | None, prefix: str, *,
                 secretsmanager: Any | None = None, kafka: Any | None = None):
        if not prefix.startswith(MSK_SECRET_PREFIX):
            raise ConfigurationError(f"MSK uses only secrets named {MSK_SECRET_PREFIX}...: KAFKA_USER_SECRET_PREFIX="
                                     f"{prefix!r} must start with it")
        if not kms_key:
            raise ConfigurationError("users' MSK secrets need a customer-managed KMS key (MSK refuses the default "
                                     "one): set KAFKA_USER_SECRETS_KEY (the template sets it to UserSecretsKey)")
        self.cluster_arn = cluster_arn
        self.kms_key = kms_key
        self.prefix = prefix
        self._secrets = secretsmanager if secretsmanager is not None else client("secretsmanager")
        self._kafka = kafka if kafka is not None else client("kafka")

    def secret_name(self, username: str) -> str:
        return f"{self.prefix}{username}"

    def set_password(self, username: str, password: str) -> None:
        name = self.secret_name(username)
        body = json.dumps({"username": username, "password": password})
        try:
            try:
                arn = self._secrets.create_secret(
                    Name=name, KmsKeyId=self.kms_key, SecretString=body,
                    Description=f"skystream: Kafka SASL/SCRAM login of {username} (issued by the filter API)",
                )["ARN"]
                associated = False
            except self._secrets.exceptions.ResourceExistsException:
                arn = self._secrets.put_secret_value(SecretId=name, SecretString=body)["ARN"]
                associated = arn in self._associated()
            if not associated:
                self._batch("batch_associate_scram_secret", arn, f"associating {name} with the cluster")
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"could not store the Kafka credentials of {username} in {name} ({exc}); try again") \
                from exc

    def remove(self, username: str) -> bool:
        name = self.secret_name(username)
        try:
            try:
                arn = self._secrets.describe_secret(SecretId=name)["ARN"]
            except self._secrets.exceptions.ResourceNotFoundException:
                return False
            if arn in self._associated():
                self._batch("batch_disassociate_scram_secret", arn, f"disassociating {name} from the cluster")
            self._secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"could not remove the Kafka credentials of {username} ({name}: {exc}); try again") \
                from exc
        return True

    def _associated(self) -> set[str]:
        arns: set[str] = set()
        kwargs: dict[str, Any] = {"ClusterArn": self.cluster_arn}
        while True:
            page = self._kafka.list_scram_secrets(**kwargs)
            arns.update(page.get("SecretArnList", []))
            if not page.get("NextToken"):
                return arns
            kwargs["NextToken"] = page["NextToken"]

    def _batch(self, operation: str, arn: str, doing: str) -> None:
        answer = getattr(self._kafka, operation)(ClusterArn=self.cluster_arn, SecretArnList=[arn])
        refused = answer.get("UnprocessedScramSecrets") or []
        if refused:
            first = refused[0]
            raise Unavailable(f"MSK refused {doing}: {first.get('ErrorCode')}: {first.get('ErrorMessage')}")
