"""Domain errors: one exception type per meaning, each carrying its HTTP status.

Core code raises these; the API maps them to ``{"error": ..., "detail": ...}`` in one
place (``skystream.api.app``), by type, never by reading the message. The message is
what the user reads, so it says what went wrong and how to fix it.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SkystreamError(Exception):
    """Base of the user-facing errors. ``code`` is the short, stable ``error`` field of the JSON body."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, detail: str, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body (none unless a type says so)."""
        return {}


class BadRequest(SkystreamError):
    """The request is well formed but cannot be done as asked (e.g. a filter's SQL is refused)."""

    status = 400
    code = "bad_request"


class FilterRejected(BadRequest):
    """A filter that cannot be saved or run as written: the checker refused its SQL (what and where),
    or it does not fit its output or trigger, or it failed while running now.

    Raised by the filter core (``skystream.filters``) and the filter service alike, so a refusal
    raised anywhere reaches the user the same way: 400 ``invalid_filter`` with ``position``, the
    0-based character offset in the text the user wrote (None when no place can be named), and
    ``part``, which text that is: ``selected``, ``tables`` or ``conditions`` of a three-part
    filter, None for a whole ``sql`` statement (or no place), so a form can point at the field.
    """

    code = "invalid_filter"

    def __init__(self, detail: str, position: int | None = None, *, part: str | None = None, **extra: Any):
        super().__init__(detail, position=position, part=part, **extra)
        self.position = position
        self.part = part


class Unauthorized(SkystreamError):
    """No token, or a token no user holds."""

    status = 401
    code = "unauthorized"


class Forbidden(SkystreamError):
    """The caller is known but may not do this to this resource (e.g. edit someone's public filter)."""

    status = 403
    code = "forbidden"


class NotFound(SkystreamError):
    """No such resource, or a private one of another user (which is not revealed to exist)."""

    status = 404
    code = "not_found"


class Conflict(SkystreamError):
    """The change clashes with the current state: a taken topic name, or a stale version."""

    status = 409
    code = "conflict"


class TopicClash(Conflict):
    """Two filters of one user would write to the same Kafka topic."""

    code = "topic_clash"


class StaleVersion(Conflict):
    """The filter changed since the caller read it (optimistic concurrency)."""

    code = "stale_version"


class AnnotatorError(BadRequest):
    """An annotator cannot be registered or changed as asked (e.g. its name is unusable in SQL)."""


class AnnotatorTaken(AnnotatorError):
    """The annotator name is already registered (names are global, like SQL aliases)."""

    status = 409
    code = "conflict"


class UnknownAnnotator(AnnotatorError):
    """No annotator of that name is registered."""

    status = 404
    code = "not_found"


class AnnotationBatchTooLarge(BadRequest):
    """The uploads of one request do not fit in one DynamoDB transaction; nothing was stored."""


class ContextFileError(BadRequest):
    """Context rows cannot be loaded; the message names the line or row and the column. Nothing is stored."""


class WatchlistError(BadRequest):
    """A watchlist's text or settings cannot be used as given (the message names the line and what is wrong)."""

    code = "invalid_watchlist"


class UnknownWatchlist(NotFound):
    """No watchlist of that id that the caller may read: another user's private one is answered the same way."""


class WatchmapError(BadRequest):
    """A watchmap's MOC or settings cannot be used as given (the message says where and what is wrong)."""

    code = "invalid_watchmap"


class UnknownWatchmap(NotFound):
    """No watchmap of that id that the caller may read: another user's private one is answered the same way."""


class UnknownContextTable(NotFound):
    """The table name is not one of the context tables (``sherlock_classifications``, ``crossmatch_tns``)."""


class TooManyRequests(SkystreamError):
    """Too many attempts of one kind from one caller in a window; ``retry_after`` says when to try again (s)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after: int, **extra: Any):
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class HourlyLimitExceeded(TooManyRequests):
    """The caller's Lasair API calls this clock hour are used up (its tier's hourly limit, a setting).

    Answered with the limit and the reset time in headers, as every call of that API is
    (``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset``, epoch seconds).
    """

    code = "api_limit_exceeded"

    def __init__(self, detail: str, *, retry_after: int, limit: int, reset_at: int, tier: str, setting: str):
        super().__init__(detail, retry_after=retry_after, limit=limit, tier=tier, setting=setting)
        self.limit = limit
        self.reset_at = reset_at

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(self.reset_at)}


class StreamAccessRefused(SkystreamError):
    """A Kafka client could not log in to read a stream: no credentials, wrong ones, revoked or replaced
    ones, or no broker at the address. Raised on the client's side (``skystream.clients.lasair``)."""

    status = 401
    code = "stream_access_refused"


class Unavailable(SkystreamError):
    """A service skystream depends on (the Kafka cluster) did not answer; trying again may work."""

    status = 503
    code = "unavailable"


class NotBuilt(SkystreamError):
    """A part of skystream that this request needs is not built yet (an honest 501)."""

    status = 501
    code = "not_implemented"


class LimitExceeded(SkystreamError):
    """A per-user limit refuses the request. The limits are settings with documented defaults;
    ``setting`` names the one, ``limit`` its value, and the detail says how to get under it."""

    status = 403
    code = "limit_exceeded"


class RateLimited(SkystreamError):
    """Too many requests of one kind from one user in a window; ``retry_after_s`` says when to try again."""

    status = 429
    code = "rate_limited"


class RunTimedOut(BadRequest):
    """Run-now stopped the filter at its time limit: it is too expensive (the matcher would stop it too)."""

    code = "run_timed_out"


class HistoryUnsupported(FilterRejected):
    """The filter cannot run over the history as written: it joins a table the history does not keep,
    or uses what the history's engines (DuckDB, Athena) cannot answer exactly as the matcher would.
    Refused with what and why, never answered differently."""

    code = "history_unsupported"


class HistoryQueryFailed(SkystreamError):
    """The history engine (DuckDB locally, Athena on AWS) failed or ran past its time limit; the detail
    says which and how long it ran."""

    status = 503
    code = "history_query_failed"
