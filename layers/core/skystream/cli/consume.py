"""``skystream consume TOPIC --group G``: read a filter's topic like Lasair's sample consumer program,
logged in with your stream credentials (``--username``, password in ``$SKYSTREAM_KAFKA_PASSWORD``)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable

from skystream.clients.lasair import lasair_consumer
from skystream.devtools.plot import plot_lightcurve
from skystream.local.stack import use_running_stack

PASSWORD_VARIABLE = "SKYSTREAM_KAFKA_PASSWORD"
USERNAME_VARIABLE = "SKYSTREAM_KAFKA_USERNAME"


def _bootstrap(args: argparse.Namespace) -> str:
    if args.kafka:
        return args.kafka
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["KAFKA_BOOTSTRAP_SERVERS"]

    return use_running_stack().bootstrap


def _password(username: str | None) -> str | None:
    """From the environment (never the command line, which other local users can read), else a prompt."""
    if username is None:
        return None
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    if sys.stdin.isatty():
        return getpass.getpass(f"Kafka password of {username}: ")
    raise RuntimeError(f"--username {username} needs its password: set ${PASSWORD_VARIABLE}")


def consume(topic: str, group: str, bootstrap: str, *, max_records: int | None, timeout: float,
            plot_dir: str | None, username: str | None = None, password: str | None = None,
            security_protocol: str = "SASL_SSL", echo: Callable[[str], object] = print) -> int:
    """Print records (and plot lightcurves) until ``max_records`` or ``timeout`` s with nothing new."""

    consumer = lasair_consumer(bootstrap, group, topic, username, password, security_protocol=security_protocol)
    n = 0
    try:
        while max_records is None or n < max_records:
            msg = consumer.poll(timeout=timeout)
            if msg is None:
                break
            if msg.error():
                echo(str(msg.error()))
                if msg.error().name() == "UNKNOWN_TOPIC_OR_PART":
                    echo(f"(there is no topic {topic}: check the name with `skystream filter show ID`; a Kafka "
                         "filter's topic exists from its save, and goes with a rename, a delete or output none)")
                elif msg.error().name() == "TOPIC_AUTHORIZATION_FAILED":
                    echo(f"(you may not read {topic}: it is another user's private filter)")
                break
            record = json.loads(msg.value())
            echo(json.dumps(record, indent=2))
            if plot_dir and isinstance(record, dict) and record.get("alert"):
                echo(f"lightcurve plotted to {plot_lightcurve(record, plot_dir)}")
            echo("===")
            n += 1
    finally:
        consumer.close()  # commits the group's position: the next run with this group resumes here
    echo(f"{n} record(s) read; no more messages available" if max_records is None or n < max_records
         else f"{n} record(s) read")
    return n


def _run(args: argparse.Namespace) -> int:
    bootstrap = _bootstrap(args)
    username = args.username or os.environ.get(USERNAME_VARIABLE) or None
    protocol = args.security_protocol or os.environ.get("KAFKA_SECURITY_PROTOCOL") or "SASL_SSL"
    consume(args.topic, args.group, bootstrap, max_records=args.max, timeout=args.timeout, plot_dir=args.plot,
            username=username, password=_password(username), security_protocol=protocol)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "consume", help="read a filter's Kafka topic (like Lasair's sample consumer)",
        description="A new --group starts at the oldest record kept (7 days); a group used before resumes "
        "where it stopped. Kafka filters' topics are named lasair_<user id><filter name>. Log in with your "
        f"stream credentials: --username (or ${USERNAME_VARIABLE}) and the password in ${PASSWORD_VARIABLE} "
        "(POST /streams/credentials, or `skystream users kafka-credentials USER_ID`, issues them).",
    )
    parser.add_argument("topic")
    parser.add_argument("--group", required=True,
                        help="your consumer group id, e.g. Susan3456 (used as <username>-Susan3456)")
    parser.add_argument("--username", help=f"your Kafka username, user-<id> (default: ${USERNAME_VARIABLE})")
    parser.add_argument("--security-protocol", choices=["SASL_SSL", "SASL_PLAINTEXT"],
                        help="default: $KAFKA_SECURITY_PROTOCOL (the local stack: SASL_PLAINTEXT), else SASL_SSL")
    parser.add_argument("--max", type=int, default=None, help="stop after this many records")
    parser.add_argument("--timeout", type=float, default=20.0, help="stop after this many seconds with nothing new")
    parser.add_argument("--plot", metavar="DIR", help="save a lightcurve PNG per lite/full record in DIR")
    parser.add_argument("--kafka", help="bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or the local stack)")
    parser.set_defaults(func=_run)
