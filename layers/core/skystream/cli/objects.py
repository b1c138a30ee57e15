"""``skystream object ID``: the stored objects row and lite lightcurve of one object."""

from __future__ import annotations

import argparse
import json
from typing import Any

from skystream import wiring
from skystream.cli.common import connect


def _show(args: argparse.Namespace) -> int:
    connect()

    stored = wiring.objects().get(args.dia_object_id)
    if stored is None:
        print(f"object {args.dia_object_id} is not stored (no alert of it has been ingested)")
        return 1
    if args.json:
        body: dict[str, Any] = {"objects": stored.row, "lite": stored.lite, "schema_version": stored.schema_version,
                                "updated": stored.updated}
        print(json.dumps(body, indent=2))
        return 0
    print(f"object {args.dia_object_id}   schema {stored.schema_version}   stored {stored.updated} UTC")
    for name, value in stored.row.items():
        if value is not None:
            print(f"  {name:28s} {value}")
    nulls = [n for n, v in stored.row.items() if v is None]
    print(f"  NULL: {', '.join(nulls)}")
    sources = stored.lite.get("diaSourcesList", [])
    print(f"\nlite lightcurve: {len(sources)} detections, {len(stored.lite.get('diaForcedSourcesList', []))} forced")
    for s in sources[:10]:
        print(f"  {s['midpointMjdTai']:14.5f} {s.get('band') or '-':>2} {s.get('psfFlux')!s:>14} "
              f"+- {s.get('psfFluxErr')!s:<12} R={s.get('reliability')}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "object", help="print the stored objects row of one object",
        description="The features row and lite lightcurve stored for a diaObjectId on the running local stack.",
        epilog="example: skystream object 3000000000000",
    )
    parser.add_argument("dia_object_id", type=int, metavar="ID", help="the diaObjectId")
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.set_defaults(func=_show)
