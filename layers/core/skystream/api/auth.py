"""Who is calling: ``Authorization: Token <key>`` (Lasair's scheme), looked up by the token's hash."""

from __future__ import annotations

from typing import Any

from skystream.errors import Unauthorized
from skystream.storage.users import User, UserStore

HOW = "send the header 'Authorization: Token <key>'; an administrator makes a key with `skystream users add`"


def users() -> UserStore:
    """A store on this environment's users table (cheap: boto3 clients are cached per endpoint)."""
    return UserStore()


def token_from(headers: dict[str, str] | None) -> str:
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    value = (lowered.get("authorization") or "").strip()
    if not value:
        raise Unauthorized(f"no API token: {HOW}")
    scheme, _, token = value.partition(" ")
    if scheme.lower() not in {"token", "bearer"} or not token.strip():
        raise Unauthorized(f"the Authorization header must be 'Token <key>': {HOW}")
    return token.strip()


def require_user(app: Any) -> User:
    """The user of the current request (``app`` is the resolver or a router); raises 401 otherwise."""
    user = users().by_token(token_from(app.current_event.headers))
    if user is None:
        raise Unauthorized(f"this API token is not valid: {HOW}")
    return user
