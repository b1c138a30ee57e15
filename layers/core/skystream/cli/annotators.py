"""``skystream annotators add | list | activate | deactivate``: the annotator registry (administrators)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from skystream import wiring
from skystream.cli.common import connect


def _owner(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"--owner takes the owner's numeric user id, not {text!r}")
    return int(text)


def _add(args: argparse.Namespace) -> int:
    connect()

    if wiring.users().get(args.owner) is None:
        raise RuntimeError(f"no user {args.owner}; create the user first, then register the annotator")
    annotator = wiring.annotators().add(args.name, args.owner, description=args.description)
    print(f"annotator {annotator.name} registered, owned by user {annotator.owner}; filters join it with "
          f"`annotator:{annotator.name}` in their tables")
    return 0


def _list(args: argparse.Namespace) -> int:
    connect()

    found = wiring.annotators().all()
    if args.json:
        print(json.dumps([asdict(a) for a in found], indent=2))
    elif not found:
        print("no annotators registered (`skystream annotators add NAME --owner USER_ID`)")
    for a in [] if args.json else found:
        print(f"{a.name:24s} owner {a.owner:>6d}  {'active' if a.active else 'INACTIVE'}  {a.description}")
    return 0


def _set_active(active: bool):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        connect()

        annotator = wiring.annotators().set_active(args.name, active)
        print(f"annotator {annotator.name} is now {'active' if annotator.active else 'inactive'}")
        return 0

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "annotators", help="register and manage annotators (classifiers whose uploads filters can join)",
        description="Annotators are named classifiers owned by one user. Only the owner may upload annotations "
        "under the name, and only while it is active. Filters join one with `annotator:NAME` in their tables.",
    )
    commands = parser.add_subparsers(dest="annotators_command", metavar="COMMAND", required=True)
    add = commands.add_parser("add", help="register an annotator owned by a user")
    add.add_argument("name", help="letters, digits and _, starting with a letter (it becomes an SQL alias)")
    add.add_argument("--owner", type=_owner, required=True, help="numeric user id of the owner")
    add.add_argument("--description", default="", help="what the classifier does")
    add.set_defaults(func=_add)
    listing = commands.add_parser("list", help="list the registered annotators")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=_list)
    for verb, active in (("activate", True), ("deactivate", False)):
        sub = commands.add_parser(verb, help=f"{verb} an annotator ({'accept' if active else 'refuse'} its uploads)")
        sub.add_argument("name")
        sub.set_defaults(func=_set_active(active))
