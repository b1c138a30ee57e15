"""The Lasair API's hourly quota per token tier, as Lasair throttles its own API.

Each call under ``/api/`` spends one unit of its user's quota for the current clock hour; past the
tier's limit the answer is 429 (the ``lasair`` client raises "Request limit exceeded ..."), with the
limit and the reset time in headers. The tiers and Lasair's numbers: anonymous 10 calls an hour
(a key shared in public), user 100, power 10,000; each a setting (``API_CALLS_PER_HOUR_<TIER>``).

The count is an atomic ADD on an item of the quota table per user and hour
(``skystream.storage.rates``), so it holds across every Lambda container serving the API. It is
kept per user, not per key: the tier belongs to the user, so a second key of the same user does not
double the budget (Lasair counts per user too). A refused call is counted as well (Lasair's
throttle does not count them; the difference only matters to a client that keeps calling while
refused, whose later calls wait no longer for it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from skystream.config import Settings
from skystream.domain.errors import HourlyLimitExceeded
from skystream.domain.users import User
from skystream.ports import RateCounter

HOUR_S = 3600
QUERY_ROW_CAPS: dict[str, int] = {"anonymous": 1_000, "user": 10_000, "power": 1_000_000}
"""Lasair's most rows of one ``query/`` call per tier."""


@dataclass(frozen=True)
class HourlyLimits:
    anonymous: int
    user: int
    power: int

    @classmethod
    def of(cls, cfg: Settings) -> HourlyLimits:
        return cls(anonymous=cfg.api_calls_per_hour_anonymous, user=cfg.api_calls_per_hour_user,
                   power=cfg.api_calls_per_hour_power)

    def of_tier(self, tier: str) -> int:
        return getattr(self, tier)


@dataclass(frozen=True)
class Allowance:
    """What is left of the caller's hour after this call: the answer's rate-limit headers."""

    limit: int
    remaining: int
    reset_at: int  # epoch seconds at which the hour's count starts again

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset_at)}


class ApiQuota:
    """Spends one call of a user's hourly Lasair API quota (``rates``: the quota table's counters)."""

    def __init__(self, rates: RateCounter, limits: HourlyLimits, clock: Callable[[], float] = time.time):
        self.rates = rates
        self.limits = limits
        self.clock = clock

    def spend(self, user: User) -> Allowance:
        """Count this call; raises :class:`HourlyLimitExceeded` (429) past the user's tier's limit."""
        limit = self.limits.of_tier(user.api_tier)
        count, left_s = self.rates.hit("lasairapi", user.user_id, HOUR_S)
        reset_at = math.ceil(self.clock() + left_s)
        if count > limit:
            setting = f"API_CALLS_PER_HOUR_{user.api_tier.upper()}"
            retry_after = max(1, math.ceil(left_s))
            raise HourlyLimitExceeded(
                f"this is your Lasair API call number {count} this hour; the {user.api_tier} tier allows {limit} "
                f"an hour (setting {setting}). Try again in {retry_after} s, or ask an administrator for a higher "
                "tier (`skystream users tier USER_ID power`)",
                retry_after=retry_after, limit=limit, reset_at=reset_at, tier=user.api_tier, setting=setting)
        return Allowance(limit=limit, remaining=limit - count, reset_at=reset_at)
