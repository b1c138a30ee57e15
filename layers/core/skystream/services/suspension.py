"""Suspending a filter that keeps failing, and telling its owner once.

The rule: a filter whose evaluation fails (an error, or stopped at its own time limit) on
:attr:`Settings.suspend_after_failures` batches in a row is suspended: the filter item
gets ``suspended`` (reason, time, count), the matcher and the annotation trigger stop
running it, the API and CLI show it, and its owner gets one email. Saving the filter
again (PUT or PATCH, even with no change) clears it. Being skipped because a batch's time
ran out is not a failure.

Counting is durable across Lambda containers and cheap when nothing fails: the count is
an atomic counter on the filter item, written only when a batch fails the filter, and set
back to zero only after a success that follows failures this container knows of (its own
writes, or the count it read with the filter). Only the container whose conditional write
suspends the filter sends the email.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from aws_lambda_powertools import Logger

from skystream.domain.filters import StoredFilter, Suspension
from skystream.ports import FailureCounts, Mailer, Notify, UserLookup

log = Logger(child=True)

KNOWN_COUNTS_SIZE = 10_000

# (filter id, version) -> the count this container last wrote; kept between invocations.
_KNOWN: OrderedDict[tuple[str, int], int] = OrderedDict()
_KNOWN_LOCK = threading.Lock()


class Suspensions:
    """:class:`~skystream.ports.FilterHealth` that counts failures on the filter item and suspends
    after ``after`` in a row (``SUSPEND_AFTER_FAILURES``), telling the owner through ``notify``."""

    def __init__(self, store: FailureCounts, *, notify: Notify, after: int,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        self.store = store
        self.notify = notify
        self.after = after
        self.clock = clock

    def succeeded(self, f: StoredFilter) -> None:
        key = (f.filter_id, f.version)
        if _KNOWN.get(key, f.consecutive_failures) > 0:
            self.store.clear_failures(f)
            _remember(key, 0)

    def failed(self, f: StoredFilter, reason: str) -> None:
        count = self.store.add_failure(f)
        _remember((f.filter_id, f.version), count)
        if count < self.after:
            return
        suspension = Suspension(
            reason=f"failed on {count} batches in a row; the last time: {reason}",
            at=self.clock().isoformat(timespec="seconds"), failures=count)
        if not self.store.suspend(f, suspension):
            return  # another matcher did it (and told the owner), or the filter was saved meanwhile
        log.warning("filter %s of user %s suspended: %s", f.filter_id, f.owner, suspension.reason)
        try:
            self.notify(f, suspension)
        except Exception:  # the suspension stands and is visible in the API; the mail is not retried
            log.exception("could not email user %s about the suspension of filter %s", f.owner, f.filter_id)


def _remember(key: tuple[str, int], count: int) -> None:
    with _KNOWN_LOCK:
        _KNOWN[key] = count
        _KNOWN.move_to_end(key)
        while len(_KNOWN) > KNOWN_COUNTS_SIZE:
            _KNOWN.popitem(last=False)


def forget_known_counts() -> None:
    """Drop this process's memory of failure counts (tests)."""
    _KNOWN.clear()


def suspension_email(f: StoredFilter, suspension: Suspension, *, to_name: str, to_email: str, sender: str) -> bytes:
    """The one email an owner gets when a filter is suspended (raw MIME, as SES SendRawEmail takes it)."""
    message = EmailMessage()
    message["Subject"] = f"skystream: your filter {f.name!r} is suspended"
    message["From"] = sender
    message["To"] = formataddr((to_name, to_email))
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    message["X-Skystream-Suspended"] = f"filter={f.filter_id}; version={f.version}"
    message.set_content(
        f"Dear {to_name},\n\n"
        f"your filter {f.name!r} (id {f.filter_id}, version {f.version}) {suspension.reason}.\n"
        f"It was suspended at {suspension.at} and no longer runs on new alerts or annotations.\n\n"
        "To run it again, change what makes it fail (or nothing, if the cause is gone) and save it:\n"
        f"  skystream filter resume {f.filter_id}\n"
        f"or PATCH /filters/{f.filter_id} with its current version. "
        "GET /filters/{id} shows the suspension until then.\n",
        cte="quoted-printable",
    )
    return message.as_bytes()


class SuspensionMailer:
    """Tells the owner by email (the :data:`~skystream.ports.Notify` the matcher uses), found and sent as
    the daily digest does: the address from ``users``, sent through ``mailer`` from ``sender``."""

    def __init__(self, users: UserLookup, mailer: Mailer, sender: str):
        self.users = users
        self.mailer = mailer
        self.sender = sender

    def __call__(self, f: StoredFilter, suspension: Suspension) -> None:
        user = self.users.get(f.owner)
        if user is None or not user.email:
            log.warning("filter %s suspended, but user %s has no email address", f.filter_id, f.owner)
            return
        raw = suspension_email(f, suspension, to_name=user.name, to_email=user.email, sender=self.sender)
        self.mailer.send(raw, self.sender)
