"""Users: who owns filters and annotators, who calls the API, who gets the daily email."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    email: str
    is_admin: bool = False


@dataclass(frozen=True)
class Recipient:
    """Where a user's email goes (the daily digest, a suspension notice)."""

    user_id: int
    name: str
    email: str

    @classmethod
    def of(cls, user: User) -> Recipient:
        return cls(user.user_id, user.name, user.email)
