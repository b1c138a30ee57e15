"""Create what the template declares (tables, buckets, topics) on the local endpoints.

Only the local stack's part lives here: moto's tables, bucket and SES identity, and wiping the
topics between tests. Creating the topics is the same step as on a real cluster
(``skystream.streams.provision``, run there by ``skystream topics provision``).
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from skystream.aws import client
from skystream.local.template import LocalTemplate
from skystream.streams.admin import TopicAdmin
from skystream.streams.provision import provision_topics


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
    return Provisioned(
        tables=sorted(template.tables),
        buckets=list(template.buckets),
        topics=create_topics(template, admin),
    )


def create_topics(template: LocalTemplate, admin: TopicAdmin) -> list[str]:
    """Create the template's topics where they are missing, with the replication the template's
    environment gives (the local stack sets KafkaReplicationFactor -1: the broker's default)."""
    factor = int(template.environment.get("KAFKA_REPLICATION_FACTOR", "-1"))
    outcomes = provision_topics(admin, template.topics, replication_factor=factor)
    return [o.name for o in outcomes]


if __name__ == "__main__":  # the old runbook's command: say where it went rather than do nothing
    raise SystemExit("`python -m skystream.local.provision topics` is now `skystream topics provision --prefix P` "
                     "(see `skystream topics provision --help` and docs/deploy.md)")
