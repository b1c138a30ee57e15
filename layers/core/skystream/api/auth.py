"""Who is calling: ``Authorization: Token <key>`` (Lasair's scheme), looked up by the token's hash.

Authentication runs before anything reads the request's parameters or body (see
``skystream.api.app``), so an anonymous caller learns nothing about what the API would accept.

Wrong tokens are throttled per source address: after :data:`MAX_FAILURES` in one clock window
of :data:`FAILURE_WINDOW_S` seconds, every request with a token from that address gets 429
with ``Retry-After`` until the window ends, a right token included (else the 429s would tell a
guesser which guess was right). The count is kept in the users table (``UserStore``), so it
holds across Lambda containers. A request without a token guesses nothing and is not counted.
"""

from __future__ import annotations

import math
import time
from typing import Any

from skystream.domain.errors import TooManyRequests, Unauthorized
from skystream.domain.users import User
from skystream.ports import TokenLookup

HOW = "send the header 'Authorization: Token <key>'; an administrator makes a key with `skystream users add`"
FAILURE_WINDOW_S = 60
MAX_FAILURES = 10
"""Wrong tokens one source address may send per window before it is refused with 429."""


def token_from(headers: dict[str, str] | None, query_token: str | None = None) -> str:
    """The key of the ``Authorization`` header or, without one, ``query_token`` (Lasair's ``?token=``)."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    value = (lowered.get("authorization") or "").strip()
    if not value and query_token and query_token.strip():
        return query_token.strip()
    if not value:
        raise Unauthorized(f"no API token: {HOW}")
    scheme, _, token = value.partition(" ")
    if scheme.lower() not in {"token", "bearer"} or not token.strip():
        raise Unauthorized(f"the Authorization header must be 'Token <key>': {HOW}")
    return token.strip()


def authenticate(headers: dict[str, str] | None, source: str, *, store: TokenLookup,
                 now: float | None = None, query_token: str | None = None) -> User:
    """The user holding the request's token; 401 without a valid one, 429 while ``source`` is throttled.

    ``query_token`` is the ``?token=`` of a Lasair API call (used when there is no header); a wrong
    one counts against ``source`` as a wrong header does.
    """
    token = token_from(headers, query_token)
    now = time.time() if now is None else now
    window = int(now // FAILURE_WINDOW_S) * FAILURE_WINDOW_S
    retry_after = max(1, math.ceil(window + FAILURE_WINDOW_S - now))
    user, failures = store.by_token_counting(token, source, window)
    if failures >= MAX_FAILURES:
        raise _throttled(source, retry_after)
    if user is None:
        if store.count_failure(source, window, expires_at=window + 2 * FAILURE_WINDOW_S) > MAX_FAILURES:
            raise _throttled(source, retry_after)
        raise Unauthorized(f"this API token is not valid: {HOW}")
    return user


def _throttled(source: str, retry_after: int) -> TooManyRequests:
    return TooManyRequests(
        f"more than {MAX_FAILURES} wrong API tokens from {source} within {FAILURE_WINDOW_S} s; "
        f"try again in {retry_after} s with a valid token",
        retry_after=retry_after,
    )


def require_user(app: Any) -> User:
    """The user the request was authenticated as (``app`` is the resolver or a router); 401 otherwise."""
    user = app.context.get("user")
    if user is None:
        raise Unauthorized(f"no API token: {HOW}")
    return user
