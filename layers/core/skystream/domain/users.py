"""Users: who owns filters and annotators, who calls the API, who gets the daily email."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ApiTier = Literal["anonymous", "user", "power"]
API_TIERS: tuple[ApiTier, ...] = ("anonymous", "user", "power")
"""The Lasair API's token tiers, each with its hourly calls (settings ``API_CALLS_PER_HOUR_<TIER>``) and
query row cap. ``anonymous`` is for a key shared in public, as Lasair publishes one; a user is ``user``
unless an administrator says otherwise (``skystream users tier``)."""


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    email: str
    is_admin: bool = False
    api_tier: ApiTier = "user"


@dataclass(frozen=True)
class Recipient:
    """Where a user's email goes (the daily digest, a suspension notice)."""

    user_id: int
    name: str
    email: str

    @classmethod
    def of(cls, user: User) -> Recipient:
        return cls(user.user_id, user.name, user.email)
