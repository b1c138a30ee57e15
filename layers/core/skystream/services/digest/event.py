"""The digest function's input: an EventBridge Scheduler invocation, or a manual one naming a day."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from skystream.services.digest.send import yesterday


class DigestEvent(BaseModel):
    """``{"date": "2026-12-01"}`` sends that day; otherwise the day before ``time`` (or now), UTC.

    EventBridge Scheduler passes the schedule's ``Input`` verbatim (the template sets none,
    so the event is empty and the digest covers yesterday). ``time`` is accepted so an
    EventBridge rule or a replayed event picks the day of its firing, not of its retry.
    """

    model_config = ConfigDict(extra="ignore")

    date: dt.date | None = None
    time: dt.datetime | None = None
    catch_up_days: int | None = Field(default=None, ge=0, le=30)

    def day(self) -> dt.date:
        if self.date is not None:
            return self.date
        when = self.time if self.time is None or self.time.tzinfo else self.time.replace(tzinfo=dt.UTC)
        return yesterday(when)
