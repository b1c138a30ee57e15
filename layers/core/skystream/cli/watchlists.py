"""``skystream watchlist create | list | show | export | rerun | delete``: watchlists, over the HTTP API like any client.

:class:`Catalogue` and :func:`add_lifecycle_commands` are the commands ``skystream watchmap`` shares with it
(``cli/watchmaps.py``): the two differ only in what they print of one, its size and a hit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skystream.cli.common import answer
from skystream.cli.filters import api
from skystream.domain.watchlists import DEFAULT_RADIUS_ARCSEC, MAX_RADIUS_ARCSEC, MAX_SOURCES


def _print(w: dict[str, Any]) -> None:
    print(f"watchlist {w['wl_id']}  {w['name']!r}  {w['count']} source(s)  default radius {w['radius']:g}\"  "
          f"owner {w['owner']}  {'active' if w['active'] else 'inactive'}{'  public' if w['public'] else ''}")
    print(f"  in a filter: tables = \"objects, watchlist:{w['wl_id']}\" (watchlist_hits.name, watchlist_hits.arcsec)")


def _create(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    body = {"name": args.name, "text": text, "radius": args.radius, "description": args.description,
            "public": args.public, "active": not args.inactive}
    made = api(args).post("/watchlists", body)
    return answer(args, made, _print)


def _export(args: argparse.Namespace) -> int:
    text = api(args).get(f"/watchlists/{args.wl_id}/export")["text"]
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {text.count(chr(10)) - 1} source(s) to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


@dataclass(frozen=True)
class Catalogue:
    """What the watchlist and watchmap commands differ by, for the commands they share."""

    kind: str
    """``watchlist`` or ``watchmap``: the command group, and ``/<kind>s`` the API's collection."""
    id_name: str
    """The id's field and argument (``wl_id``, ``ar_id``)."""
    printed: Callable[[dict[str, Any]], None]
    """Prints one, as create and show do."""
    size: Callable[[dict[str, Any]], str]
    """Its size in a list row (``12 sources``)."""
    hit: Callable[[dict[str, Any]], str]
    """One rerun hit's line."""


def _list(args: argparse.Namespace) -> int:
    c: Catalogue = args.catalogue
    found = api(args).get(f"/{c.kind}s")[f"{c.kind}s"]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print(f"no {c.kind}s yet (`skystream {c.kind} create --help`)")
    for w in found:
        print(f"{w[c.id_name]:>6}  {w['name'][:40]:40s} {c.size(w)}  owner {w['owner']:<5d} "
              f"{'active' if w['active'] else 'inactive'}{'  public' if w['public'] else ''}")
    return 0


def _show(args: argparse.Namespace) -> int:
    c: Catalogue = args.catalogue
    return answer(args, api(args).get(f"/{c.kind}s/{getattr(args, c.id_name)}"), c.printed)


def _rerun(args: argparse.Namespace) -> int:
    c: Catalogue = args.catalogue
    out = api(args).post(f"/{c.kind}s/{getattr(args, c.id_name)}/rerun", {})
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for h in out["hits"]:
        print(c.hit(h))
    print(f"{len(out['hits'])} hit(s) among {out['candidates']} candidate(s); {out['queries']} index Queries, "
          f"{out['gets']} BatchGetItem calls{'; TRUNCATED' if out['truncated'] else ''}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    c: Catalogue = args.catalogue
    out = api(args).delete(f"/{c.kind}s/{getattr(args, c.id_name)}")
    print(f"deleted {c.kind} {out['deleted']}")
    return 0


def add_lifecycle_commands(commands: argparse._SubParsersAction, c: Catalogue, *,
                           export: Callable[[argparse.Namespace], int], export_help: str) -> None:
    """The list, show, export, rerun and delete commands of a watchlist or watchmap (create is each one's own)."""
    listing = commands.add_parser("list", help=f"your {c.kind}s and the public ones")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list, catalogue=c)

    show = commands.add_parser("show", help=f"one {c.kind}'s settings")
    show.add_argument(c.id_name, type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show, catalogue=c)

    exporting = commands.add_parser("export", help=export_help)
    exporting.add_argument(c.id_name, type=int)
    exporting.add_argument("--output", "-o", help="write to this file instead of standard output")
    exporting.set_defaults(func=export, catalogue=c)

    rerun = commands.add_parser("rerun", help=f"the {c.kind}'s hits among the stored objects (docs/watchlists.md#rerun)")
    rerun.add_argument(c.id_name, type=int)
    rerun.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    rerun.set_defaults(func=_rerun, catalogue=c)
    delete = commands.add_parser("delete", help=f"delete a {c.kind} of yours")
    delete.add_argument(c.id_name, type=int)
    delete.set_defaults(func=_delete, catalogue=c)


WATCHLIST = Catalogue("watchlist", "wl_id", printed=_print, size=lambda w: f"{w['count']:>7} sources",
                      hit=lambda h: f"{h['diaObjectId']}  {h['name']}  {h['arcsec']:.3f}\"")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watchlist", help="create, list, show, export and delete watchlists (over the HTTP API)",
        description="A watchlist is a list of sources, one a line: RA, Dec, name[, radius] (',' or '|', decimal "
        f"degrees, radius in arcsec up to {MAX_RADIUS_ARCSEC:g}; at most {MAX_SOURCES:,} sources). A filter joins "
        "its hits with watchlist:N in tables. The API is found at --api or $SKYSTREAM_API_URL (default: the "
        "running local stack); the token at --token or $SKYSTREAM_TOKEN.",
    )
    parser.add_argument("--api", help="base URL of the API")
    parser.add_argument("--token", help="your API token")
    commands = parser.add_subparsers(dest="watchlist_command", metavar="COMMAND", required=True)

    create = commands.add_parser("create", help="create a watchlist from a text file ('-' reads standard input)")
    create.add_argument("file", help="the sources: lines RA, Dec, name[, radius]")
    create.add_argument("--name", required=True)
    create.add_argument("--radius", type=float, default=DEFAULT_RADIUS_ARCSEC,
                        help=f"default radius in arcsec for lines without one (default {DEFAULT_RADIUS_ARCSEC:g})")
    create.add_argument("--description", default="")
    create.add_argument("--public", action="store_true", help="let every user see it and use it in filters")
    create.add_argument("--inactive", action="store_true", help="store it without matching alerts against it")
    create.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    create.set_defaults(func=_create)

    add_lifecycle_commands(commands, WATCHLIST, export=_export,
                           export_help="a watchlist's sources as text (creates the same watchlist again)")
