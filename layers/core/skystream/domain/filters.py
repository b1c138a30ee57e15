"""A user's stored filter: Lasair's three SQL parts plus triggers, output and bookkeeping.

This is the record kept in the filters table and returned by the API. Its SQL is
compiled by :func:`skystream.filters.compiler.compiled_filter` (memoised on its text).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from skystream.domain.names import PrintableName

Output = Literal["none", "email", "kafka_plain", "kafka_lite", "kafka_full"]
KAFKA_OUTPUTS: frozenset[str] = frozenset({"kafka_plain", "kafka_lite", "kafka_full"})
Trigger = Literal["alert", "annotation"]
DEFAULT_BYTE_QUOTA = 100 * 1024 * 1024  # 100 MB per filter per UTC day


class FilterSpec(BaseModel):
    """What a user writes: the filter's SQL (three Lasair parts, or one SELECT) and its settings."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PrintableName = Field(min_length=1, max_length=200,
                                description="Also names the Kafka topic: lasair_<user id><name>; printable characters")
    description: str = Field(default="", max_length=4000)
    selected: str | None = Field(default=None, max_length=20_000, description="The SELECT list, e.g. objects.diaObjectId, objects.ra")
    tables: str | None = Field(default=None, max_length=2_000, description="The FROM list, e.g. objects, sherlock_classifications")
    conditions: str | None = Field(default=None, max_length=20_000, description="The WHERE clause, without the word WHERE")
    sql: str | None = Field(default=None, max_length=40_000, description="Alternatively a whole SELECT ... FROM ... WHERE ...")
    on_alert: bool = Field(default=False, description="Run on every new alert")
    on_annotation: bool = Field(default=False, description="Run when an annotation the filter joins arrives")
    output: Output = Field(default="none", description="Where matches go")
    public: bool = Field(default=False, description="Visible to (and runnable by) every user")
    byte_quota: int = Field(default=DEFAULT_BYTE_QUOTA, ge=0, le=10 * 1024**3, description="Bytes per UTC day on the topic")


class Suspension(BaseModel):
    """Why and when the matcher stopped running a filter. Saving the filter again clears it."""

    model_config = ConfigDict(extra="ignore")

    reason: str = Field(description="The last failure, e.g. 'stopped after 2.01 s: over the time limit of 2 s'")
    at: str = Field(description="When it was suspended (UTC, ISO 8601)")
    failures: int = Field(description="Consecutive failing batches that led to it")


class StoredFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    filter_id: str
    owner: int
    name: str
    description: str = ""
    selected: str
    tables: str
    conditions: str = ""
    on_alert: bool = False
    on_annotation: bool = False
    output: Output = "none"
    public: bool = False
    byte_quota: int = Field(default=DEFAULT_BYTE_QUOTA, ge=0)
    topic: str | None = None
    created: str
    modified: str
    version: int = 1
    # Written by the matcher, not by the user: batches failed in a row (reset by a success),
    # and the suspension once they reach the limit (``skystream.services.suspension``).
    consecutive_failures: int = 0
    suspended: Suspension | None = None

    @property
    def is_kafka(self) -> bool:
        return self.output in KAFKA_OUTPUTS

    @property
    def active(self) -> bool:
        """Runs by itself (on alerts or annotations); inactive filters run only when asked.
        A suspended filter is not active until its owner saves it again."""
        return (self.on_alert or self.on_annotation) and self.suspended is None
