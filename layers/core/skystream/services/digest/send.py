"""Send the daily digest: each user with unsent matches gets them by email, each part exactly once.

The procedure, per (day, user), holding a lease so overlapping runs cannot both send:
read the matches not covered by a sent part, split them into emails that fit SES's
limit, and for each email: send it, and only once SES has accepted it write the "sent"
marker covering its matches. A failed send stops that user's remaining parts and is
logged; nothing is marked, so the next run sends it. Each run also looks back
``catch_up_days`` days, so a failure on Monday is delivered by Tuesday's run.

The one gap left is inherent to email: if the process dies after SES accepted a part
and before its marker is written, the next run sends that part again (at least once,
never zero times).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from skystream.aws import client
from skystream.domain.users import Recipient
from skystream.ports import DigestOutbox, Mailer, Recipients, UserLookup
from skystream.services.digest.compose import BODY_ROWS_PER_FILTER, MAX_ATTACHMENT_BYTES, compose, split

logger = Logger(child=True)

CATCH_UP_DAYS = 3


class SesMailer:
    """SES v1 ``SendRawEmail``: recipients come from the message's ``To`` header."""

    def send(self, raw: bytes, sender: str) -> str:
        response = client("ses").send_raw_email(Source=sender, RawMessage={"Data": raw})
        return str(response["MessageId"])


def recipients_of(users: UserLookup) -> Recipients:
    """Each user's name and address from ``users`` (None for a deleted user)."""

    def recipient(user_id: int) -> Recipient | None:
        user = users.get(user_id)
        return Recipient.of(user) if user else None

    return recipient


@dataclass
class DigestReport:
    """What one run did, per day it looked at; counts are what a log line or the CLI shows."""

    day: str
    days: list[str] = field(default_factory=list)
    emails_sent: int = 0
    records_sent: int = 0
    users_mailed: list[int] = field(default_factory=list)
    users_up_to_date: int = 0
    users_busy: list[int] = field(default_factory=list)  # another run holds the lease
    users_without_address: list[int] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # "day/user" -> error

    users_deferred: int = 0  # not reached before the time budget ran out; the next run sends them

    def metrics(self) -> dict[str, int]:
        return {"EmailsSent": self.emails_sent, "MatchesEmailed": self.records_sent, "UsersMailed": len(self.users_mailed),
                "UsersDeferred": self.users_deferred, "UsersWithoutAddress": len(self.users_without_address),
                "UsersBusy": len(self.users_busy), "DigestFailures": len(self.failures)}

    @property
    def complete(self) -> bool:
        return not (self.failures or self.users_busy or self.users_without_address or self.users_deferred)

    def raise_for_failures(self) -> None:
        """Raise when a send failed or was cut short, so Lambda's asynchronous retries run it again soon.

        A user without an address is not a failure worth retrying (their matches wait in the
        table until the TTL); a retry resends nothing that was marked sent.
        """
        if self.failures or self.users_deferred:
            raise DigestIncomplete(
                f"digest {self.day}: {len(self.failures)} send(s) failed ({'; '.join(self.failures.values())}), "
                f"{self.users_deferred} user(s) deferred; {self.emails_sent} email(s) were sent and marked. "
                "Retrying sends only what is unsent."
            )


class DigestIncomplete(RuntimeError):
    """Some of the day's digest is still unsent; running the digest again sends exactly that."""


def yesterday(now: dt.datetime | None = None) -> dt.date:
    now = now or dt.datetime.now(dt.UTC)
    return (now.astimezone(dt.UTC) - dt.timedelta(days=1)).date()


@dataclass(frozen=True)
class DigestSender:
    """The digest function's collaborators: the digest table, who gets mail, the mail service, the From address."""

    store: DigestOutbox
    recipients: Recipients
    mailer: Mailer
    sender: str

    def send(self, day: dt.date, *, catch_up_days: int = CATCH_UP_DAYS,
             out_of_time: Callable[[], bool] = lambda: False) -> DigestReport:
        """:func:`send_digest` with these collaborators."""
        return send_digest(day, store=self.store, recipients=self.recipients, mailer=self.mailer, sender=self.sender,
                           catch_up_days=catch_up_days, out_of_time=out_of_time)


def send_digest(
    day: dt.date,
    *,
    store: DigestOutbox,
    recipients: Recipients,
    mailer: Mailer,
    sender: str,
    catch_up_days: int = CATCH_UP_DAYS,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    rows_per_filter: int = BODY_ROWS_PER_FILTER,
    out_of_time: Callable[[], bool] = lambda: False,
) -> DigestReport:
    """Send every unsent match of ``day`` and of the ``catch_up_days`` days before it.

    ``out_of_time`` is asked before each user: once it says yes, the rest are counted as
    deferred and left for the next run (a Lambda passes "under a minute left").
    """
    owner = uuid.uuid4().hex
    report = DigestReport(day=day.isoformat())
    for back in range(catch_up_days, -1, -1):
        current = day - dt.timedelta(days=back)
        report.days.append(current.isoformat())
        for user_id in store.users(current):
            if out_of_time():
                report.users_deferred += 1
                continue
            try:
                _send_user(current, user_id, store=store, recipients=recipients, mailer=mailer, sender=sender,
                           owner=owner, report=report, max_attachment_bytes=max_attachment_bytes,
                           rows_per_filter=rows_per_filter)
            except Exception as exc:  # one user's trouble (a read, a marker write) never stops the others
                logger.exception("digest %s: user %s failed", current, user_id)
                report.failures.setdefault(f"{current.isoformat()}/{user_id}", f"{type(exc).__name__}: {exc}")
    logger.info("digest %s: %d emails, %d records, failures %s", day, report.emails_sent, report.records_sent,
                report.failures or "none")
    return report


def _send_user(day: dt.date, user_id: int, *, store: DigestOutbox, recipients: Recipients,
               mailer: Mailer, sender: str, owner: str, report: DigestReport, max_attachment_bytes: int,
               rows_per_filter: int) -> None:
    if not store.claim(day, user_id, owner):
        report.users_busy.append(user_id)
        return
    try:
        pending, sent = store.pending(day, user_id)
        if not pending:
            report.users_up_to_date += 1
            return
        recipient = recipients(user_id)
        if recipient is None or not recipient.email:
            logger.warning("digest %s: user %s has %d unsent matches but no email address", day, user_id,
                           len(pending))
            report.users_without_address.append(user_id)
            return
        chunks = split(pending, max_attachment_bytes)
        done = len(sent)
        total = done + len(chunks)
        for offset, chunk in enumerate(chunks, start=1):
            part = done + offset
            raw = compose(day, recipient, sender, chunk, part=part, parts=total, rows_per_filter=rows_per_filter)
            try:
                message_id = mailer.send(raw, sender)
            except Exception as exc:  # any refusal: leave it unmarked for the next run
                logger.error("digest %s: sending part %d to user %s failed: %s", day, part, user_id, exc)
                report.failures[f"{day.isoformat()}/{user_id}"] = f"part {part}: {exc}"
                return
            store.mark_sent(day, user_id, part, chunk, message_id)
            report.emails_sent += 1
            report.records_sent += len(chunk)
            if user_id not in report.users_mailed:
                report.users_mailed.append(user_id)
    finally:
        store.release(day, user_id, owner)
