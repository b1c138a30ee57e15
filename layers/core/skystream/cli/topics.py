"""``skystream topics provision``: create the stack's own topics on a real Kafka cluster (a deploy step)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from skystream.config import ConfigurationError
from skystream.local.handlers import template_path
from skystream.local.template import load_template
from skystream.streams.admin import TopicAdmin
from skystream.streams.config import AUTH_MODES, KafkaAuth, cluster_config
from skystream.streams.provision import provision_topics


def _cluster(args: argparse.Namespace) -> tuple[str, KafkaAuth]:
    """The cluster from the flags, else from the variables the functions use (never the local stack)."""
    bootstrap = args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not bootstrap:
        raise ConfigurationError(
            "no Kafka cluster given: pass --bootstrap HOST:PORT[,HOST:PORT] or set KAFKA_BOOTSTRAP_SERVERS (the "
            "stack's KafkaBootstrapServers). The local stack needs no provisioning: `skystream up` creates its topics"
        )
    mode = (args.auth or os.environ.get("KAFKA_AUTH") or "none").lower()
    if mode not in AUTH_MODES:
        raise ConfigurationError(f"Kafka auth {mode!r} is not one of {', '.join(AUTH_MODES)} (--auth or KAFKA_AUTH)")
    secret_arn = args.secret_arn or os.environ.get("KAFKA_SCRAM_SECRET_ARN") or None
    if mode == "scram" and not secret_arn:
        raise ConfigurationError("--auth scram needs the SCRAM secret: --secret-arn ARN or KAFKA_SCRAM_SECRET_ARN")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    if mode in {"scram", "iam"} and not region:
        raise ConfigurationError(f"--auth {mode} needs the cluster's AWS region: set AWS_REGION")
    protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL") or None  # set by the local stack only (no TLS on loopback)
    return bootstrap, KafkaAuth(mode=mode, secret_arn=secret_arn, region=region or "us-east-1",  # type: ignore[arg-type]
                                security_protocol=protocol)


def _replication_factor(args: argparse.Namespace) -> int:
    if args.replication_factor is not None:
        return int(args.replication_factor)
    raw = os.environ.get("KAFKA_REPLICATION_FACTOR", "-1")
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"KAFKA_REPLICATION_FACTOR={raw!r} is not a whole number (-1: the broker's default)") from None


def _run(args: argparse.Namespace) -> int:
    bootstrap, auth = _cluster(args)
    template = load_template(Path(args.template) if args.template else template_path(),
                             parameters={"TopicPrefix": args.prefix})
    print(f"cluster  {bootstrap} (auth {auth.mode})")
    # librdkafka would log every failed connection attempt; the one error that matters is raised below.
    admin = TopicAdmin(config=cluster_config(bootstrap, auth, log_level=2))
    outcomes = provision_topics(admin, template.topics, replication_factor=_replication_factor(args),
                                timeout_s=args.timeout)
    for outcome in outcomes:
        print(outcome.describe())
    created = sum(o.created for o in outcomes)
    differing = sum(bool(o.differences) for o in outcomes)
    print(f"{created} created, {len(outcomes) - created} already present"
          + (f", {differing} differ from the template (left as they are)" if differing else ""))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "topics", help="skystream's own Kafka topics on a real cluster (deploy step)",
        description="skystream's own Kafka topics (alerts, alerts-enriched, alerts-dlq, annotations) are not "
        "CloudFormation resources: create them once per stack, before the functions' triggers start.",
    )
    commands = parser.add_subparsers(dest="topics_command", metavar="COMMAND")
    provision = commands.add_parser(
        "provision", help="create the template's topics where they are missing",
        description="Create the topics listed in infra/template.yaml (Metadata: Skystream::KafkaTopics) on the "
        "cluster, with their partitions and retention, each name prefixed with the stack's TopicPrefix. "
        "Idempotent: a topic that exists is left exactly as it is, and the report says where it differs from "
        "the template (partitions, retention). Run it again whenever you like; users' lasair_* topics are "
        "created by the service itself when a Kafka filter is saved.\n\n"
        "The cluster comes from the flags, else from the variables the functions read: "
        "KAFKA_BOOTSTRAP_SERVERS, KAFKA_AUTH (none, scram or iam), KAFKA_SCRAM_SECRET_ARN, "
        "KAFKA_REPLICATION_FACTOR, and AWS_REGION plus your AWS credentials for iam and scram. Run it from a "
        "machine that reaches the cluster (MSK: inside its VPC, e.g. a bastion or CloudShell in the VPC).",
        epilog="examples:\n"
        "  # MSK with IAM auth (port 9098), the stack deployed with TopicPrefix=prod-\n"
        "  AWS_REGION=eu-west-2 skystream topics provision --prefix prod- \\\n"
        "      --bootstrap b-1.mycluster.abc123.c2.kafka.eu-west-2.amazonaws.com:9098 --auth iam\n"
        "  # the same from the variables the functions use\n"
        "  KAFKA_BOOTSTRAP_SERVERS=b-1...:9096 KAFKA_AUTH=scram KAFKA_SCRAM_SECRET_ARN=arn:... \\\n"
        "      KAFKA_REPLICATION_FACTOR=3 AWS_REGION=eu-west-2 skystream topics provision --prefix prod-",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    provision.add_argument("--prefix", default="", help="the stack's TopicPrefix parameter (default: none)")
    provision.add_argument("--bootstrap", metavar="SERVERS",
                           help="bootstrap servers, host:port[,host:port] (default: $KAFKA_BOOTSTRAP_SERVERS)")
    provision.add_argument("--auth", choices=AUTH_MODES, help="how to authenticate (default: $KAFKA_AUTH, else none)")
    provision.add_argument("--secret-arn", metavar="ARN",
                           help="Secrets Manager secret with the SCRAM username and password "
                                "(default: $KAFKA_SCRAM_SECRET_ARN)")
    provision.add_argument("--replication-factor", type=int, metavar="N",
                           help="replicas of each new topic (default: $KAFKA_REPLICATION_FACTOR, else -1: the "
                                "broker's default.replication.factor; use 3 on a 3-AZ MSK cluster)")
    provision.add_argument("--template", metavar="PATH",
                           help="the SAM template listing the topics (default: infra/template.yaml of this checkout)")
    provision.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                           help="how long to wait for the cluster to answer (default 10)")
    provision.set_defaults(func=_run)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
