"""``skystream watchmap create | list | show | export | rerun | delete``: watchmaps (MOC sky areas), over the HTTP API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from skystream.cli.common import answer
from skystream.cli.filters import api
from skystream.cli.watchlists import Catalogue, add_lifecycle_commands
from skystream.domain.watchmaps import FITS_REFUSAL, MAX_RANGES


def _print(w: dict[str, Any]) -> None:
    print(f"watchmap {w['ar_id']}  {w['name']!r}  {w['ranges']} range(s) to depth {w['depth']}  "
          f"{w['sky_fraction'] * 41252.96:.4g} deg2  owner {w['owner']}  "
          f"{'active' if w['active'] else 'inactive'}{'  public' if w['public'] else ''}")
    print(f"  in a filter: tables = \"objects, watchmap:{w['ar_id']}\" (area_hits.ar_id)")


def _create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name, "description": args.description, "public": args.public,
                            "active": not args.inactive}
    if (args.file is None) == (args.cone is None):
        print("give either a MOC file or --cone RA DEC RADIUS_ARCSEC", file=sys.stderr)
        return 2
    if args.file is not None:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        if data.startswith(b"SIMPLE"):
            print(FITS_REFUSAL, file=sys.stderr)
            return 2
        body["moc"] = data.decode("utf-8")
    else:
        ra, dec, radius = args.cone
        body["cone"] = {"ra": ra, "dec": dec, "radius": radius, "depth": args.depth}
    made = api(args).post("/watchmaps", body)
    return answer(args, made, _print)


def _export(args: argparse.Namespace) -> int:
    moc = api(args).get(f"/watchmaps/{args.ar_id}/export")["moc"]
    if args.output:
        Path(args.output).write_text(moc + "\n")
        print(f"wrote watchmap {args.ar_id}'s MOC to {args.output}")
    else:
        print(moc)
    return 0


WATCHMAP = Catalogue("watchmap", "ar_id", printed=_print, size=lambda w: f"{w['ranges']:>7} ranges",
                     hit=lambda h: f"{h['diaObjectId']}")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watchmap", help="create, list, show, export and delete watchmaps (over the HTTP API)",
        description="A watchmap is a sky area as a MOC: its ASCII form ('3/1-3 5 4/100') or JSON form "
        f"('{{\"3\": [1, 2, 3]}}'), at most {MAX_RANGES:,} ranges of cells, or a cone. FITS is not supported yet: "
        "convert with mocpy's MOC.from_fits(path).to_string(). A filter joins its hits with watchmap:N in tables. "
        "The API is found at --api or $SKYSTREAM_API_URL; the token at --token or $SKYSTREAM_TOKEN.",
    )
    parser.add_argument("--api", help="base URL of the API")
    parser.add_argument("--token", help="your API token")
    commands = parser.add_subparsers(dest="watchmap_command", metavar="COMMAND", required=True)

    create = commands.add_parser("create", help="create a watchmap from a MOC file ('-' reads standard input) "
                                 "or a cone")
    create.add_argument("file", nargs="?", help="the MOC, ASCII or JSON")
    create.add_argument("--cone", nargs=3, type=float, metavar=("RA", "DEC", "RADIUS_ARCSEC"),
                        help="build the MOC from a cone instead")
    create.add_argument("--depth", type=int, help="HEALPix depth of a cone's cells (default: 1/20 of the radius)")
    create.add_argument("--name", required=True)
    create.add_argument("--description", default="")
    create.add_argument("--public", action="store_true", help="let every user see it and use it in filters")
    create.add_argument("--inactive", action="store_true", help="store it without matching alerts against it")
    create.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    create.set_defaults(func=_create)

    add_lifecycle_commands(commands, WATCHMAP, export=_export,
                           export_help="a watchmap's MOC in ASCII (creates the same watchmap again)")
