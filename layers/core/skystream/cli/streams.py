"""``skystream streams acl-plan [--apply]``: the ACL changes that would make the cluster match the filters."""

from __future__ import annotations

import argparse

from skystream.cli.common import connect
from skystream.wiring import api as services


def _acl_plan(args: argparse.Namespace) -> int:
    connect()

    access = services.stream_access()
    changes = access.plan()
    for line in changes.lines():
        print(line)
    print(f"{len(changes.add)} to add, {len(changes.remove)} to remove"
          + (" (the cluster's ACLs match the filters)" if changes.empty else ""))
    if args.apply and not changes.empty:
        access.apply(changes)
        print("applied")
    elif not changes.empty:
        print("nothing changed: run again with --apply to make these changes")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "streams", help="who may read which topic: the ACLs derived from the filters",
        description="Users' topics are readable by their owner (private filters) or by every user with stream "
        "credentials (public ones); the internal topics by the functions only. The ACLs follow each filter's "
        "save and delete by themselves; this shows (and with --apply makes) what differs, e.g. after a "
        "failed save, a restored table, or on a new cluster (the functions' own ACLs: docs/deploy.md).")
    commands = parser.add_subparsers(dest="streams_command", metavar="COMMAND")
    plan = commands.add_parser("acl-plan", help="print the ACL bindings to add (+) and to remove (-)",
                               description="Compares the cluster's ACLs of skystream's principals (users' "
                               "user-<id>, the functions') with what the filters and users say. Bindings of "
                               "other principals are never listed or touched.")
    plan.add_argument("--apply", action="store_true", help="make the changes (adds first, then removes)")
    plan.set_defaults(func=_acl_plan)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
