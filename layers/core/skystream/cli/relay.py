"""``skystream relay``: copy an upstream alert stream (Rubin's, SASL/SCRAM) into the ``alerts`` topic."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time

from skystream.config import settings
from skystream.streams.config import AUTH_MODES, SCRAM_MECHANISMS, SECURITY_PROTOCOLS, KafkaAuth, cluster_config
from skystream.streams.relay import Relay, RelaySettings, RelayStats


def _region() -> str:
    """The relay's AWS region (its Fargate task sets AWS_REGION): where its secrets and MSK IAM tokens are.

    Read here, not through the functions' settings: the relay's task has only AWS_REGION and
    KAFKA_SCRAM_SECRET_ARN (infra/relay.yaml) and is given everything else as flags.
    """
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or KafkaAuth.region


def _source_auth(args: argparse.Namespace) -> KafkaAuth:
    password = os.environ.get(args.from_password_env) if args.from_password_env else None
    if args.from_username and password is None and not args.from_secret_arn:
        raise SystemExit(
            f"skystream relay: --from-username needs a password: set ${args.from_password_env} "
            "or pass --from-secret-arn"
        )
    mode = args.from_auth or ("scram" if (args.from_username or args.from_secret_arn) else "none")
    return KafkaAuth(
        mode=mode,
        security_protocol=args.from_security_protocol,
        scram_mechanism=args.from_sasl_mechanism,
        username=args.from_username,
        password=password,
        secret_arn=args.from_secret_arn,
        region=_region(),
    )


def _target_auth(args: argparse.Namespace) -> KafkaAuth:
    """The flags, else the functions' settings (a relay into the local stack, which sets them all)."""
    return KafkaAuth(
        mode=args.to_auth or settings().kafka_auth,
        security_protocol=args.to_security_protocol or (None if args.to_auth else settings().kafka_security_protocol),
        secret_arn=args.to_secret_arn or os.environ.get("KAFKA_SCRAM_SECRET_ARN") or None,
        region=_region(),
    )


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s relay %(levelname)s %(message)s", stream=sys.stderr)
    relay = Relay(
        RelaySettings(
            source=cluster_config(args.from_bootstrap, _source_auth(args)),
            source_topics=tuple(args.topic),
            target=cluster_config(args.to or settings().kafka_bootstrap_servers, _target_auth(args)),
            target_topic=args.to_topic or settings().topic_alerts,
            group_id=args.group,
            batch_size=args.batch_size,
            start_at=args.start_at,
            session_timeout_ms=args.session_timeout_ms,
        )
    )
    signal.signal(signal.SIGTERM, lambda *_: relay.stop())  # Fargate's stop: finish the batch, commit, exit
    signal.signal(signal.SIGINT, lambda *_: relay.stop())
    last_report = [time.monotonic()]

    def progress(stats: RelayStats) -> None:
        if args.progress_every and time.monotonic() - last_report[0] >= args.progress_every:
            last_report[0] = time.monotonic()
            print(json.dumps({"progress": stats.as_dict()}), file=sys.stderr, flush=True)

    stats = relay.run(max_records=args.max_records, idle_exit_s=args.idle_exit, progress=progress)
    print(json.dumps(stats.as_dict()), flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "relay",
        help="copy an upstream alert stream (e.g. Rubin's, SASL/SCRAM) into the alerts topic",
        description="Consume an upstream Kafka topic and copy every record byte for byte (key, value, headers, "
        "timestamp) into skystream's alerts topic, committing upstream offsets only after the copy is "
        "acknowledged (at least once: a crash may repeat one batch, never lose one). Runs until stopped "
        "(SIGTERM finishes the current batch); prints its counts as JSON on exit. In AWS it is the Fargate "
        "task of infra/relay.yaml.",
        epilog="example (Rubin):\n"
        "  RUBIN_KAFKA_PASSWORD=... skystream relay --from usdf-alert-stream-dev.lsst.cloud:9094 \\\n"
        "      --topic lsst-alerts-v11 --from-username my-broker --from-security-protocol SASL_PLAINTEXT \\\n"
        "      --to b-1.msk.example:9098 --to-auth iam\n"
        "example (local):\n  skystream relay --from 127.0.0.1:19092 --topic lsst-alerts-v11 --idle-exit 10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--from", dest="from_bootstrap", required=True, metavar="BOOTSTRAP",
                        help="upstream bootstrap servers (host:port[,host:port])")
    parser.add_argument("--topic", action="append", required=True,
                        help="upstream topic to copy (repeatable), e.g. lsst-alerts-v11")
    parser.add_argument("--group", default="skystream-relay",
                        help="upstream consumer group; its committed offsets are the relay's progress")
    parser.add_argument("--from-auth", choices=["none", "scram"],
                        help="upstream auth (default: scram when a username or secret is given, else none)")
    parser.add_argument("--from-security-protocol", choices=SECURITY_PROTOCOLS,
                        help="upstream protocol (Rubin: SASL_PLAINTEXT; default SASL_SSL with scram)")
    parser.add_argument("--from-sasl-mechanism", choices=SCRAM_MECHANISMS, default="SCRAM-SHA-512")
    parser.add_argument("--from-username", help="upstream SCRAM username")
    parser.add_argument("--from-password-env", default="RUBIN_KAFKA_PASSWORD", metavar="VAR",
                        help="environment variable holding the upstream password (default RUBIN_KAFKA_PASSWORD)")
    parser.add_argument("--from-secret-arn",
                        help="Secrets Manager secret with the upstream {username, password} instead")
    parser.add_argument("--to", metavar="BOOTSTRAP",
                        help="skystream's bootstrap servers (default KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--to-topic", help="target topic (default TOPIC_ALERTS, i.e. alerts)")
    parser.add_argument("--to-auth", choices=AUTH_MODES, help="target auth (default KAFKA_AUTH)")
    parser.add_argument("--to-security-protocol", choices=SECURITY_PROTOCOLS, help="target protocol override")
    parser.add_argument("--to-secret-arn", help="target SCRAM secret (default KAFKA_SCRAM_SECRET_ARN)")
    parser.add_argument("--batch-size", type=int, default=1000, help="records per copy-and-commit (default 1000)")
    parser.add_argument("--start-at", choices=["earliest", "latest"], default="earliest",
                        help="where a NEW consumer group starts (default earliest: all the upstream retains)")
    parser.add_argument("--session-timeout-ms", type=int, default=10_000,
                        help="consumer session timeout; a restarted relay rejoins after at most this")
    parser.add_argument("--max-records", type=int, help="stop after copying this many (backfills, tests)")
    parser.add_argument("--idle-exit", type=float, metavar="SECONDS",
                        help="stop after this long with nothing new (default: run until stopped)")
    parser.add_argument("--progress-every", type=float, default=30.0, metavar="SECONDS",
                        help="print counts to stderr this often (0: never)")
    parser.set_defaults(func=_run)
