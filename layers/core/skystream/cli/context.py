"""``skystream context load FILE``: load sherlock_classifications or crossmatch_tns rows (administrators)."""

from __future__ import annotations

import argparse
from pathlib import Path

from skystream import wiring
from skystream.cli.common import connect
from skystream.services.context import load_file


def _load(args: argparse.Namespace) -> int:
    connect()

    table, count = load_file(Path(args.file), wiring.context(), args.table)
    print(f"{count} {table} row(s) stored; filters joining {table} see them from the next batch")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "context", help="load context tables (sherlock_classifications, crossmatch_tns) that filters join",
    )
    commands = parser.add_subparsers(dest="context_command", metavar="COMMAND", required=True)
    load = commands.add_parser(
        "load", help="store the rows of a CSV or JSON-lines file, one row per diaObjectId",
        description="Rows replace each object's previous row of the table. Columns must be the table's "
        "(see the schema endpoint); every row needs diaObjectId. CSV needs a header line; empty cells are NULL. "
        "Nothing is stored when any row is refused.",
        epilog="example:\n  skystream context load sherlock_classifications.csv\n"
        "  skystream context load tns.jsonl --table crossmatch_tns",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("file", help=".csv, .jsonl or .json (a JSON array or one object per line)")
    load.add_argument("--table", choices=("sherlock_classifications", "crossmatch_tns"),
                      help="the table (default: the one the file name starts with)")
    load.set_defaults(func=_load)
