"""``skystream up | down | status | demo``: the embedded local stack."""

from __future__ import annotations

import argparse
import json

from skystream.local import stack
from skystream.local.aws_endpoint import LOCALSTACK_PORT


def _up(args: argparse.Namespace) -> int:
    stack.up(kafka_port=args.kafka_port, aws_port=args.aws_port, api_port=args.api_port, detach=args.detach)
    return 0


def _down(args: argparse.Namespace) -> int:
    stack.down()
    return 0


def _status(args: argparse.Namespace) -> int:
    info = stack.status()
    if args.json:
        print(json.dumps(info, indent=2))
    elif not info.get("pids"):
        print("no local stack is running (`skystream up --detach` starts one)")
    else:
        for name, alive in info["alive"].items():
            print(f"{name:10s} pid {info['pids'][name]:>7d}  {'running' if alive else 'STOPPED'}")
        print(f"kafka      {info['bootstrap']}\naws        {info['endpoint']}\napi        {info['api_url']}")
    return 0 if info.get("running") else 1


def _demo(args: argparse.Namespace) -> int:
    from skystream.local.demo import run_demo

    return run_demo(count=args.count)


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser(
        "up",
        help="start the local stack (Kafka broker, AWS endpoint, functions, HTTP API)",
        description="Start everything on loopback: the tansu Kafka broker, moto's AWS endpoint, the tables, "
        "bucket and topics of infra/template.yaml, an event-source runner per Kafka trigger and the HTTP API. "
        "KAFKA_BOOTSTRAP_SERVERS or AWS_ENDPOINT_URL, when set, use an existing broker or endpoint instead.",
        epilog="examples:\n  skystream up --detach     # start in the background, then `skystream down`\n"
        "  skystream up              # serve in the foreground until Ctrl-C",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("-d", "--detach", action="store_true", help="return once ready; stop later with `skystream down`")
    up.add_argument("--kafka-port", type=int, default=stack.DEFAULT_KAFKA_PORT, help="broker port (default 9092)")
    up.add_argument("--aws-port", type=int, default=LOCALSTACK_PORT, help="AWS endpoint port (default 4566)")
    up.add_argument("--api-port", type=int, default=stack.DEFAULT_API_PORT, help="HTTP API port (default 8000)")
    up.set_defaults(func=_up)

    down = subparsers.add_parser("down", help="stop everything `skystream up` started (by pid)")
    down.set_defaults(func=_down)

    status = subparsers.add_parser("status", help="show the local stack's processes and addresses")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)

    demo = subparsers.add_parser(
        "demo", help="one user's story on the local stack: save a kafka_lite filter, replay alerts, read matches"
    )
    demo.add_argument("--count", type=int, default=120, help="tonight's alerts to replay (default 120)")
    demo.set_defaults(func=_demo)
