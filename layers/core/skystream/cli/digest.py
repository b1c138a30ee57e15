"""``skystream digest``: send the daily email digest on the local stack, or show what was sent."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import asdict

from skystream.devtools.mailbox import sent_emails
from skystream.local.stack import use_running_stack
from skystream.services.digest.send import yesterday
from skystream.wiring.digest import digest_sender


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


def _show(endpoint: str, as_json: bool) -> int:
    mails = sent_emails(endpoint)
    if as_json:
        print(json.dumps([{**asdict(m), "record_count": len(m.records)} for m in mails], indent=2, default=str))
        return 0
    if not mails:
        print("no email has been sent on this local stack")
        return 0
    for mail in mails:
        print(f"=== {mail.message_id}\nFrom:       {mail.source}\nTo:         {mail.to}\nSubject:    {mail.subject}")
        print(f"Attachment: {mail.attachment_name} ({len(mail.records)} records)\n")
        print(mail.text)
    return 0


def _run(args: argparse.Namespace) -> int:
    state = use_running_stack()
    if args.show:
        return _show(state.endpoint, args.json)

    day = args.date or yesterday()
    report = digest_sender().send(day, catch_up_days=args.catch_up_days)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(f"digest {day.isoformat()} (days {', '.join(report.days)}): {report.emails_sent} email(s), "
              f"{report.records_sent} record(s) to users {report.users_mailed or 'none'}; "
              f"{report.users_up_to_date} already up to date")
        for key, error in report.failures.items():
            print(f"FAILED {key}: {error} (the next run retries it)")
        if report.users_without_address:
            print(f"no email address for users {report.users_without_address}: their matches wait")
        if report.users_busy:
            print(f"another run is sending to users {report.users_busy}")
    return 0 if report.complete else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "digest",
        help="send the daily email digest on the local stack (or --show the mail sent)",
        description="Send each user the email digest of their email filters' matches for a day (default: "
        "yesterday, UTC), plus anything still unsent from the days before, against the running local stack. "
        "Idempotent: running it again sends nothing twice. --show prints the mail moto's SES accepted.",
        epilog="examples:\n  skystream digest --date 2026-12-01\n  skystream digest --show",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--date", type=_day, help="the UTC day to send, YYYY-MM-DD (default: yesterday)")
    parser.add_argument("--catch-up-days", type=int, default=3,
                        help="also send what is still unsent from this many days before (default 3)")
    parser.add_argument("--show", action="store_true", help="print the mail sent so far instead of sending")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=_run)
