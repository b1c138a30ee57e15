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
from typing import Protocol

from aws_lambda_powertools import Logger

from skystream.domain.filters import StoredFilter, Suspension

log = Logger(child=True)

KNOWN_COUNTS_SIZE = 10_000


class FilterHealth(Protocol):
    """What the matcher reports after each batch, per filter it ran."""

    def succeeded(self, f: StoredFilter) -> None: ...

    def failed(self, f: StoredFilter, reason: str) -> None: ...


class FailureCounts(Protocol):
    """The durable side (``storage.filters.FilterStore``)."""

    def add_failure(self, f: StoredFilter) -> int: ...

    def clear_failures(self, f: StoredFilter) -> None: ...

    def suspend(self, f: StoredFilter, suspension: Suspension) -> bool: ...


Notify = Callable[[StoredFilter, Suspension], None]

# (filter id, version) -> the count this container last wrote; kept between invocations.
_KNOWN: OrderedDict[tuple[str, int], int] = OrderedDict()
_KNOWN_LOCK = threading.Lock()


class Suspensions:
    """:class:`FilterHealth` that counts failures on the filter item and suspends at the limit."""

    def __init__(self, store: FailureCounts | None = None, *, notify: Notify | None = None,
                 after: int | None = None, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        from skystream.config import settings

        if store is None:
            from skystream.storage.filters import FilterStore

            store = FilterStore()
        self.store = store
        self.notify = notify or email_owner
        self.after = after or settings().suspend_after_failures
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


def email_owner(f: StoredFilter, suspension: Suspension) -> None:
    """Mail the owner through SES, found and sent as the daily digest does."""
    from skystream.config import settings
    from skystream.services.digest.send import SesMailer, user_store_recipient

    recipient = user_store_recipient(f.owner)
    if recipient is None or not recipient.email:
        log.warning("filter %s suspended, but user %s has no email address", f.filter_id, f.owner)
        return
    sender = settings().digest_sender
    raw = suspension_email(f, suspension, to_name=recipient.name, to_email=recipient.email, sender=sender)
    SesMailer().send(raw, sender)


class MemoryFailureCounts:
    """In-memory :class:`FailureCounts` for unit tests (a filter is known by id; versions are trusted)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.suspended: dict[str, Suspension] = {}
        self.writes = 0

    def add_failure(self, f: StoredFilter) -> int:
        self.writes += 1
        self.counts[f.filter_id] = self.counts.get(f.filter_id, 0) + 1
        return self.counts[f.filter_id]

    def clear_failures(self, f: StoredFilter) -> None:
        self.writes += 1
        self.counts[f.filter_id] = 0

    def suspend(self, f: StoredFilter, suspension: Suspension) -> bool:
        if f.filter_id in self.suspended:
            return False
        self.writes += 1
        self.suspended[f.filter_id] = suspension
        return True
