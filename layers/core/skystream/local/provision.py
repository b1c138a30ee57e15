"""Create what the template declares (tables, buckets, topics) on the local endpoints.

Only the local stack's part lives here: moto's tables, bucket and SES identity, the functions'
SCRAM secret, and wiping the topics, users' credentials and ACLs between tests. Creating the
topics is the same step as on a real cluster (``skystream.streams.provision``, run there by
``skystream topics provision``), and so is giving the functions their ACLs (``skystream streams
acl-plan --apply`` on AWS; here :func:`provision` applies that plan).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    UserScramCredentialDeletion,
)

from skystream.aws import client
from skystream.local.broker import Login
from skystream.local.template import LocalTemplate
from skystream.streams.admin import TopicAdmin
from skystream.streams.config import client_config, forget_secrets
from skystream.streams.provision import provision_topics
from skystream.wiring.api import stream_access

FUNCTIONS_SECRET = "AmazonMSK_skystream-functions"
"""The functions' SCRAM secret on the local AWS endpoint, named as MSK wants (``KAFKA_SCRAM_SECRET_ARN``:
Secrets Manager takes a name where an ARN goes)."""


@dataclass
class Provisioned:
    tables: list[str]
    buckets: list[str]
    topics: list[str]


def provision(template: LocalTemplate, *, fresh_topics: bool = False) -> Provisioned:
    """Idempotent: existing resources are kept. ``fresh_topics`` deletes and recreates the topics."""
    dynamodb = client("dynamodb")
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for name, kwargs in template.tables.items():
        if name not in existing:
            dynamodb.create_table(**kwargs)
            dynamodb.get_waiter("table_exists").wait(TableName=name)
        if name in template.time_to_live:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": template.time_to_live[name]},
            )
    s3 = client("s3")
    for bucket in template.buckets:
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise
    if template.environment.get("DIGEST_SENDER"):  # in AWS the operator verifies it once; locally, every reset
        client("ses").verify_email_identity(EmailAddress=template.environment["DIGEST_SENDER"])
    admin = TopicAdmin()
    if fresh_topics:
        admin.delete(admin.list_topics())
    made = Provisioned(
        tables=sorted(template.tables),
        buckets=list(template.buckets),
        topics=create_topics(template, admin),
    )
    if template.environment.get("KAFKA_AUTH") == "scram":  # our own broker: its ACLs as the filters say
        access = stream_access()
        access.apply(access.plan())
    return made


def create_topics(template: LocalTemplate, admin: TopicAdmin) -> list[str]:
    """Create the template's topics where they are missing, with the replication the template's
    environment gives (the local stack sets KafkaReplicationFactor -1: the broker's default)."""
    factor = int(template.environment.get("KAFKA_REPLICATION_FACTOR", "-1"))
    outcomes = provision_topics(admin, template.topics, replication_factor=factor)
    return [o.name for o in outcomes]


def put_functions_secret(login: Login, name: str = FUNCTIONS_SECRET) -> None:
    """Store the functions' credentials where a function reads them (``KAFKA_SCRAM_SECRET_ARN``), as on AWS.

    Locally it is a plain Secrets Manager secret on moto: the customer-managed key MSK insists on
    would change nothing the functions see (Secrets Manager decrypts for them).
    """
    secrets = client("secretsmanager")
    body = json.dumps({"username": login.username, "password": login.password})
    try:
        secrets.create_secret(Name=name, SecretString=body,
                              Description="skystream local stack: the functions' Kafka SASL/SCRAM login")
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=body)
    forget_secrets()  # a process that read an older one (a previous stack) reads it again


def fresh_access(functions_user: str) -> None:
    """Forget every user's Kafka credential (but the functions') and every ACL: what a wiped stack has.

    Through the Kafka admin API as the functions' user, so it works on the local front door
    (``skystream.local.kafka_front``), which keeps both in memory for as long as it runs.
    """
    admin = AdminClient(client_config())
    users = admin.describe_user_scram_credentials().result()
    gone = [UserScramCredentialDeletion(user, info.mechanism)
            for user, description in users.items() if user != functions_user
            for info in description.scram_credential_infos]
    if gone:
        for future in admin.alter_user_scram_credentials(gone).values():
            future.result()
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                                  AclPermissionType.ANY)
    for future in admin.delete_acls([everything]).values():
        future.result()


if __name__ == "__main__":  # the old runbook's command: say where it went rather than do nothing
    raise SystemExit("`python -m skystream.local.provision topics` is now `skystream topics provision --prefix P` "
                     "(see `skystream topics provision --help` and docs/deploy.md)")
