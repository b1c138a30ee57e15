"""``skystream history ...``: look after the history's files (docs/history.md).

- ``status``: per table and night, how many files, rows and bytes the history holds;
- ``compact``: rewrite each night's small files (one per writer batch) as one sorted file;
- ``glue-columns``: the Glue column list of a table, as ``infra/template.yaml`` declares it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

import yaml

from skystream.cli.common import answer, connect
from skystream.history.glue import glue_columns
from skystream.history.schema import HISTORY_TABLES
from skystream.services.history_compaction import NightCompaction
from skystream.wiring.history import history_compaction


def _progress(total: int, what: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # the [local] extra brings tqdm; without it, no bar
        return None
    return tqdm(total=total, unit="night", desc=what, file=sys.stderr)


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _status(args: argparse.Namespace) -> int:
    connect()
    rows = history_compaction().status(table=args.table)

    def human(found: list[dict[str, Any]]) -> None:
        if not found:
            print("the history is empty (no file under history/ in the bucket): replay alerts with "
                  "`skystream alerts replay`, or wait for the history writer's next batch")
            return
        print(f"{'table':18s} {'night':>6s} {'files':>6s} {'rows':>10s} {'bytes':>12s}")
        for s in found:
            print(f"{s['table']:18s} {s['night']:>6d} {s['files']:>6d} {s['rows']:>10d} {_mb(s['bytes']):>12s}")
        many = [s for s in found if s["files"] > 1]
        if many:
            print(f"\n{len(many)} night(s) hold more than one file: `skystream history compact` merges them")

    return answer(args, [asdict(s) for s in rows], human)


def _compact(args: argparse.Namespace) -> int:
    connect()
    compaction = history_compaction()
    plan = compaction.plan(table=args.table, night=args.night)
    if not plan:
        where = f" of night {args.night}" if args.night is not None else ""
        print(f"nothing to compact: no history files{where} (`skystream history status` lists them)")
        return 0
    bar = _progress(len(plan), "compacting")

    def advance(done: NightCompaction) -> None:
        if bar is not None:
            bar.update(1)

    try:
        report = compaction.compact(table=args.table, night=args.night, min_files=args.min_files, progress=advance)
    finally:
        if bar is not None:
            bar.close()

    def human(nights: list[dict[str, Any]]) -> None:
        done = [n for n in nights if not n["skipped"]]
        for n in done:
            print(f"{n['table']:18s} night {n['night']}: {n['files_before']} files, {_mb(n['bytes_before'])} -> "
                  f"1 file, {n['rows']} rows, {_mb(n['bytes_after'])}")
        print(f"compacted {len(done)} of {len(nights)} (table, night) pairs; the rest had fewer than "
              f"{args.min_files} files")

    return answer(args, [asdict(n) for n in report.nights], human)


def _glue_columns(args: argparse.Namespace) -> int:
    for name in [args.table] if args.table else list(HISTORY_TABLES):
        print(f"# {name}: Resources.<table>.Properties.TableInput.StorageDescriptor.Columns")
        print(yaml.safe_dump(glue_columns(HISTORY_TABLES[name]), sort_keys=False, width=200), end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "history", help="the history's files on S3: status, compaction",
        description="The history keeps every alert's objects row, its detection and new forced photometry as "
                    "Parquet files under history/{table}/night={night}/ of the archive bucket (docs/history.md). "
                    "The writer adds one file per table and night per batch; compaction merges a night's files "
                    "into one, so engines open fewer files.",
        epilog="examples:\n  skystream history status\n  skystream history compact --night 60123\n"
               "  skystream history compact --table detections --min-files 10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="history_command", metavar="SUBCOMMAND", required=True)
    tables = sorted(HISTORY_TABLES)

    status = commands.add_parser(
        "status", help="files, rows and bytes per table and night",
        description="Per table and night: how many Parquet files, rows (from the files' footers) and bytes. "
                    "More than one file in a night means the writer's batches have not been compacted yet.")
    status.add_argument("--table", choices=tables, help="one table only (default: all three)")
    status.add_argument("--json", action="store_true", help="print as JSON")
    status.set_defaults(func=_status)

    compact = commands.add_parser(
        "compact", help="merge each night's files into one sorted file",
        description="For each (table, night): download its files, merge them into one file sorted by the table's "
                    "sort key with one row per unique key, upload it, and only then delete the files it replaces. "
                    "Safe to run while the writer runs and to run again after an interruption (readers deduplicate "
                    "by the unique key; the merged file's name is derived from what it replaces). Run it on nights "
                    "that are over: a night still being written gets new files after the merge.",
        epilog="example: skystream history compact --night 60123 --min-files 4",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    compact.add_argument("--table", choices=tables, help="one table only (default: all three)")
    compact.add_argument("--night", type=int, metavar="N", help="one night only (an MJD rounded at noon UTC)")
    compact.add_argument("--min-files", type=int, default=2, metavar="K",
                         help="leave a night with fewer than K files alone (default 2)")
    compact.add_argument("--json", action="store_true", help="print the report as JSON")
    compact.set_defaults(func=_compact)

    glue = commands.add_parser(
        "glue-columns", help="the Glue columns of a table, for infra/template.yaml",
        description="Print the Glue column list generated from skystream.history.schema, as the template's "
                    "AWS::Glue::Table resources declare it (tests/unit/test_template_history.py checks they agree).")
    glue.add_argument("--table", choices=tables, help="one table only (default: all three)")
    glue.set_defaults(func=_glue_columns)
