"""``skystream filter create | list | show | run | backtest | resume | delete``: filters, over the HTTP API like any client."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from skystream.clients.api import ApiClient
from skystream.local.stack import use_running_stack


def api(args: argparse.Namespace) -> ApiClient:
    """The API at --api, $SKYSTREAM_API_URL, or the running local stack; token from --token or $SKYSTREAM_TOKEN."""
    url = args.api or os.environ.get("SKYSTREAM_API_URL")
    if not url:
        url = use_running_stack().api_url
    token = args.token or os.environ.get("SKYSTREAM_TOKEN")
    if not token:
        raise RuntimeError("no API token: pass --token or export SKYSTREAM_TOKEN "
                           "(`skystream users add NAME EMAIL` prints one)")
    return ApiClient(str(url), token)


def _print_filter(f: dict[str, Any]) -> None:
    triggers = [t for t, on in (("alert", f["on_alert"]), ("annotation", f["on_annotation"])) if on]
    print(f"filter {f['filter_id']}  {f['name']!r}  v{f['version']}  owner {f['owner']}"
          f"{'  public' if f['public'] else ''}")
    print(f"  SELECT {f['selected']}\n  FROM {f['tables']}" + (f"\n  WHERE {f['conditions']}" if f["conditions"] else ""))
    print(f"  runs on: {', '.join(triggers) or 'request only (inactive)'}; output: {f['output']}"
          + (f"; topic: {f['topic']}" if f.get("topic") else ""))
    suspended = f.get("suspended")
    if suspended:
        print(f"  SUSPENDED since {suspended['at']}: {suspended['reason']}\n"
              f"  (it does not run until saved again: skystream filter resume {f['filter_id']})")
    elif f.get("consecutive_failures"):
        print(f"  failed on the last {f['consecutive_failures']} batch(es) in a row")


def _create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "name": args.name, "description": args.description, "output": args.output,
        "on_alert": args.on_alert, "on_annotation": args.on_annotation, "public": args.public,
    }
    if args.sql:
        body["sql"] = args.sql
    else:
        body |= {"selected": args.selected, "tables": args.tables, "conditions": args.conditions}
    saved = api(args).post("/filters", body)
    if args.json:
        print(json.dumps(saved, indent=2))
        return 0
    _print_filter(saved["filter"])
    print(saved["message"])
    if saved.get("topic"):
        print(f"consume it with: skystream consume {saved['topic']} --group <your group id>")
    return 0


def _list(args: argparse.Namespace) -> int:
    found = api(args).get(f"/filters?public={'true' if args.public else 'false'}")["filters"]
    if args.json:
        print(json.dumps(found, indent=2))
    elif not found:
        print("no filters yet (`skystream filter create --help`)")
    for f in [] if args.json else found:
        state = "SUSPENDED" if f.get("suspended") else "active" if f["active"] else "inactive"
        print(f"{f['filter_id']}  {f['name'][:40]:40s} {f['output']:11s} owner {f['owner']:<5d} "
              f"{state}{'  public' if f['public'] else ''}")
    return 0


def _show(args: argparse.Namespace) -> int:
    f = api(args).get(f"/filters/{args.filter_id}")
    if args.json:
        print(json.dumps(f, indent=2))
    else:
        _print_filter(f)
    return 0


def _run(args: argparse.Namespace) -> int:
    over = "all" if args.all else "recent"
    result = api(args).post(f"/filters/{args.filter_id}/run?limit={args.limit}&over={over}&offset={args.offset}")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for row in result["rows"]:
        print(json.dumps(row))
    if args.all:
        more = f" (more matched: --offset {args.offset + result['count']} for the next page)" if result["truncated"] else ""
        print(f"{result['count']} row(s) over every object in the history ({result['nights']} night(s)) "
              f"in {result['elapsed_s']:.3f} s{more}")
    else:
        more = " (more matched: raise --limit, or --all for every object in the history)" if result["truncated"] else ""
        print(f"{result['count']} row(s) from the {result['objects_scanned']} most recent objects "
              f"in {result['elapsed_s']:.3f} s{more}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    result = api(args).post(f"/filters/{args.filter_id}/backtest?nights={args.nights}&sample={args.sample}")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if not result["nights"]:
        print("the history holds no nights yet: alerts reach it through the history writer")
    for night in result["nights"]:
        print(f"night {night['night']}: {night['alerts']} of {night['total']} alerts ({night['share']:.2%}), "
              f"{night['objects']} object(s)")
        for row in night["sample"]:
            print(f"    {json.dumps(row)}")
    for warning in result["warnings"]:
        print(f"WARNING {warning}")
    print(f"in {result['elapsed_s']:.3f} s")
    return 0


def _resume(args: argparse.Namespace) -> int:
    """Save the filter again unchanged: that clears a suspension (and re-runs its checks and limits)."""
    client = api(args)
    current = client.get(f"/filters/{args.filter_id}")
    saved = client.patch(f"/filters/{args.filter_id}", {"version": current["version"]})
    _print_filter(saved["filter"])
    print(saved["message"])
    return 0


def _delete(args: argparse.Namespace) -> int:
    out = api(args).delete(f"/filters/{args.filter_id}")
    print(f"deleted filter {out['deleted']}" + (f" and its topic {out['topic_deleted']}" if out["topic_deleted"] else ""))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "filter", help="create, list, show, run and delete SQL filters (over the HTTP API)",
        description="Filters are Lasair SQL: a SELECT list, a FROM list and a WHERE clause over the objects table "
        "and its joins. The API is found at --api or $SKYSTREAM_API_URL (default: the running local stack); "
        "the token at --token or $SKYSTREAM_TOKEN.",
    )
    parser.add_argument("--api", help="base URL of the API")
    parser.add_argument("--token", help="your API token")
    commands = parser.add_subparsers(dest="filter_command", metavar="COMMAND", required=True)

    create = commands.add_parser(
        "create", help="save a new filter",
        epilog="example:\n  skystream filter create --name bright --output kafka_lite --on-alert \\\n"
        "    --selected 'objects.diaObjectId, objects.ra, objects.decl' --tables objects \\\n"
        "    --conditions 'objects.nDiaSources >= 3'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument("--name", required=True, help="also names the topic: lasair_<your id><name>")
    create.add_argument("--description", default="")
    create.add_argument("--selected", help="the SELECT list")
    create.add_argument("--tables", help="the FROM list")
    create.add_argument("--conditions", help="the WHERE clause (without WHERE)")
    create.add_argument("--sql", help="instead of the three parts: one whole SELECT statement")
    create.add_argument("--output", default="kafka_plain",
                        choices=["none", "email", "kafka_plain", "kafka_lite", "kafka_full"],
                        help="where matches go (default kafka_plain; kafka_lite adds the lightcurve, "
                        "kafka_full the whole alert, none mutes)")
    create.add_argument("--on-alert", action="store_true", help="run on every new alert")
    create.add_argument("--on-annotation", action="store_true", help="run when a joined annotation arrives")
    create.add_argument("--public", action="store_true", help="let every user see and run it")
    create.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    create.set_defaults(func=_create)

    listing = commands.add_parser("list", help="your filters and the public ones")
    listing.add_argument("--no-public", dest="public", action="store_false", help="only your own")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)

    show = commands.add_parser("show", help="one filter")
    show.add_argument("filter_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)

    run = commands.add_parser("run", help="run a filter now over the most recent objects (--all: every object)",
                              epilog="examples:\n  skystream filter run F1               # the newest 1,000 objects\n"
                              "  skystream filter run F1 --all --limit 500 --offset 500   # every object, 2nd page",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("filter_id")
    run.add_argument("--limit", type=int, default=100, help="most rows to return (1-1000)")
    run.add_argument("--all", action="store_true",
                     help="over the latest state of every object in the history (objects-only filters), "
                     "not only the newest 1,000 stored objects")
    run.add_argument("--offset", type=int, default=0, help="with --all: rows to skip (the next page)")
    run.add_argument("--json", action="store_true")
    run.set_defaults(func=_run)

    backtest = commands.add_parser(
        "backtest", help="what a filter would have matched on each recent night of the history",
        description="For each of the history's newest nights: how many alerts and objects the filter's conditions "
        "hold for, out of how many alerts, and a sample of its rows. mjdnow() is the end of each night. A night on "
        "which it matches more than 1% of the alerts is flagged: its topic would flood.",
        epilog="example:\n  skystream filter backtest F1 --nights 3 --sample 2",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    backtest.add_argument("filter_id")
    backtest.add_argument("--nights", type=int, default=3, help="how many of the newest nights (1-30)")
    backtest.add_argument("--sample", type=int, default=5, help="rows shown per night (0-100)")
    backtest.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    backtest.set_defaults(func=_backtest)

    resume = commands.add_parser("resume", help="save a filter of yours again unchanged: lifts a suspension")
    resume.add_argument("filter_id")
    resume.set_defaults(func=_resume)

    delete = commands.add_parser("delete", help="delete a filter of yours and its topic")
    delete.add_argument("filter_id")
    delete.set_defaults(func=_delete)
