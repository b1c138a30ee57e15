"""Create what the template declares (tables, buckets, topics) on the local endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from skystream.aws import client
from skystream.local.template import LocalTemplate
from skystream.streams.admin import TopicAdmin


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


def create_topics(template: LocalTemplate, admin: TopicAdmin | None = None) -> list[str]:
    """Create the template's topics (``Skystream::KafkaTopics``, prefixed) where they are missing.

    Also the deploy step for a real cluster: topics are not CloudFormation resources. Replication
    follows ``KAFKA_REPLICATION_FACTOR`` (-1: the broker's default).
    """
    admin = admin or TopicAdmin()
    for topic in template.topics:
        admin.create([topic.name], partitions=topic.partitions, retention_ms=topic.retention_ms)
    return [t.name for t in template.topics]


def main(argv: list[str] | None = None) -> int:
    """``python -m skystream.local.provision topics [--prefix P]``: create the topics on KAFKA_BOOTSTRAP_SERVERS."""
    import argparse

    from skystream.local.handlers import template_path
    from skystream.local.template import load_template

    parser = argparse.ArgumentParser(prog="python -m skystream.local.provision")
    parser.add_argument("what", choices=["topics"], help="what to create on the cluster the environment names")
    parser.add_argument("--prefix", default="", help="the stack's TopicPrefix")
    args = parser.parse_args(argv)
    created = create_topics(load_template(template_path(), parameters={"TopicPrefix": args.prefix}))
    print("topics present:", ", ".join(created))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
