"""``skystream up | down | status | restart | demo``: the embedded local stack."""

from __future__ import annotations

import argparse
import json

from skystream.local import stack
from skystream.local.aws_endpoint import LOCALSTACK_PORT
from skystream.local.demo import run_demo


def _up(args: argparse.Namespace) -> int:
    stack.up(kafka_port=args.kafka_port, aws_port=args.aws_port, api_port=args.api_port, detach=args.detach)
    return 0


def _restart(args: argparse.Namespace) -> int:
    stack.restart_functions()
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
        if info.get("api_url"):
            print(f"page       {stack.page_url(info['api_url'])}")
        if info["alive"].get("functions") is False and all(info["answering"].values()):
            print("the function host is not running; the broker and endpoint answer: "
                  "`skystream restart functions` restarts it")
    return 0 if info.get("running") else 1


def _demo(args: argparse.Namespace) -> int:
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

    restart = subparsers.add_parser(
        "restart",
        help="restart only the function host of the running local stack (after a crash, or to load edited code)",
        description=(
            "Restart only the function host of the local stack (every Kafka trigger's runner and the HTTP API),\n"
            "after it crashed or was killed, or to load code edited under functions/ or layers/.\n\n"
            "It stops the host `skystream up --detach` recorded, if it still runs (SIGTERM: it finishes its\n"
            "batch), creates the template's tables, bucket and topics where missing (a restarted in-memory\n"
            "broker has lost its topics), and starts a new host on the same API port against the same Kafka\n"
            "broker and AWS endpoint, which keep running with their data.\n\n"
            "Each trigger resumes from its consumer group's committed offsets: a batch that was in flight\n"
            "when the host died is delivered again (duplicates are possible: the pipeline is at-least-once),\n"
            "and no record is skipped."
        ),
        epilog="examples:\n"
        "  skystream status             # 'functions ... STOPPED': the host crashed or was killed\n"
        "  skystream restart functions  # a new host; the broker, endpoint and their data are untouched\n"
        "  tail -f .skystream/logs/functions.log   # one line per partition a trigger starts for the first time\n\n"
        "If the broker or the endpoint does not answer, restart everything: `skystream down`, then "
        "`skystream up --detach`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    restart.add_argument("component", choices=["functions"],
                         help="what to restart: functions (every Kafka trigger's runner and the HTTP API)")
    restart.set_defaults(func=_restart)

    status = subparsers.add_parser("status", help="show the local stack's processes and addresses")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)

    demo = subparsers.add_parser(
        "demo", help="one user's story on the local stack: save a kafka_lite filter, replay alerts, read matches"
    )
    demo.add_argument("--count", type=int, default=120, help="tonight's alerts to replay (default 120)")
    demo.set_defaults(func=_demo)
