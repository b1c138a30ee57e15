"""The ``skystream`` command line. Each topic lives in its own module with a ``register`` function.

Adding a command group: write ``skystream/cli/<topic>.py`` with
``register(subparsers: argparse._SubParsersAction) -> None`` that adds its parsers and
sets ``func`` on each; then add the module name to ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = ("stack", "digest", "annotators", "context", "users", "filters", "consume", "relay", "alerts", "objects",
                                   "topics", "streams", "watchlists",
                                   "watchmaps", "history")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skystream",
        description="skystream: SQL filters over Rubin alerts, matches pushed to Kafka topics or a daily email.",
        epilog="Start with `skystream up --detach`, then `skystream status`; `skystream COMMAND --help` for more.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"skystream.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the command line shows one clear line, not a traceback
        if getattr(args, "debug", False) or __import__("os").environ.get("SKYSTREAM_DEBUG"):
            raise
        print(f"skystream: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
