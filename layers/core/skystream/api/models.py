"""Request and response bodies of the HTTP API (they also generate /openapi.json)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field

from skystream.domain.filters import FilterSpec, Output, StoredFilter, Suspension
from skystream.domain.names import PrintableName
from skystream.domain.watchlists import (
    DEFAULT_RADIUS_ARCSEC,
    MAX_RADIUS_ARCSEC,
    MAX_SOURCES,
    MAX_TEXT_BYTES,
    Watchlist,
)
from skystream.domain.watchmaps import MAX_CONE_DEPTH, MAX_CONE_RADIUS_DEG, MAX_RANGES, Watchmap
from skystream.domain.watchmaps import MAX_TEXT_BYTES as MAX_MOC_BYTES

ObjectId = Annotated[int, Path(ge=0, le=2**63 - 1, description="The Rubin diaObjectId")]
"""The ``{dia_object_id}`` path parameter of the object routes."""


class ErrorBody(BaseModel):
    error: str = Field(description="A short, stable code: bad_request, invalid_filter, unauthorized, ...")
    detail: Any = Field(description="What went wrong and how to fix it")


class FilterCreate(FilterSpec):
    """A new filter. Give ``selected``, ``tables`` and ``conditions`` (Lasair's three parts) or one ``sql``."""


class FilterReplace(FilterSpec):
    """The whole filter, as it should be after the change, with the version it was read at."""

    version: int = Field(ge=1, le=2**31, description="The version you read; a newer stored version gives 409")


class FilterPatch(BaseModel):
    """Only the fields to change, with the version they were read at."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(ge=1, le=2**31, description="The version you read; a newer stored version gives 409")
    name: PrintableName | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    selected: str | None = Field(default=None, max_length=20_000)
    tables: str | None = Field(default=None, max_length=2_000)
    conditions: str | None = Field(default=None, max_length=20_000)
    sql: str | None = Field(default=None, max_length=40_000)
    on_alert: bool | None = None
    on_annotation: bool | None = None
    output: Output | None = None
    public: bool | None = None
    byte_quota: int | None = Field(default=None, ge=0, le=10 * 1024**3)


class FilterOut(BaseModel):
    filter_id: str
    owner: int
    name: str
    description: str
    selected: str
    tables: str
    conditions: str
    on_alert: bool
    on_annotation: bool
    active: bool = Field(description="Runs by itself on alerts or annotations (not when suspended)")
    output: Output
    public: bool
    byte_quota: int
    topic: str | None = Field(description="The Kafka topic its records go to (Kafka outputs only)")
    created: str
    modified: str
    version: int
    consecutive_failures: int = Field(description="Batches in a row on which the filter failed or timed out")
    suspended: Suspension | None = Field(
        description="Set when the filter failed on too many batches in a row: it no longer runs until saved again")

    @classmethod
    def of(cls, f: StoredFilter) -> FilterOut:
        return cls(**f.model_dump(), active=f.active)


class SaveResponse(BaseModel):
    filter: FilterOut
    topic: str | None = Field(description="The Kafka topic to consume (None when the output is not Kafka)")
    reseeded: int = Field(description="Records put in the topic now from the most recent objects (at most 10)")
    message: str


class FilterList(BaseModel):
    filters: list[FilterOut]


RunOver = Literal["recent", "all"]
OVER_DESCRIPTION = ("recent: the newest 1,000 stored objects (any table may be joined; sees an alert within seconds); "
                    "all: the latest state of every object the history holds (objects only; the history lags by "
                    "its writer's batching window)")


class AdhocRun(FilterSpec):
    """An unsaved query to run now (``name`` may be omitted)."""

    name: PrintableName = Field(default="adhoc", min_length=1, max_length=200)
    limit: int = Field(default=100, ge=1, le=1000, description="Most rows to return")
    over: RunOver = Field(default="recent", description=OVER_DESCRIPTION)
    offset: int = Field(default=0, ge=0, le=1_000_000, description="Rows to skip (over=all only): the next page")


class RunResponse(BaseModel):
    rows: list[dict[str, Any]]
    count: int
    truncated: bool = Field(description="More rows matched than were returned")
    objects_scanned: int | None = Field(
        description="How many of the most recent objects the filter ran over (over=recent; null for over=all)")
    elapsed_s: float
    over: RunOver = Field(default="recent", description=OVER_DESCRIPTION)
    nights: int | None = Field(default=None, description="Nights the history holds (over=all)")


class AdhocBacktest(FilterSpec):
    """An unsaved query to backtest (``name`` may be omitted)."""

    name: PrintableName = Field(default="adhoc", min_length=1, max_length=200)
    nights: int = Field(default=3, ge=1, le=30, description="How many of the history's newest nights")
    sample: int = Field(default=5, ge=0, le=100, description="Rows shown per night")


class NightOut(BaseModel):
    night: int = Field(description="The observing night: the MJD rounded at noon UTC")
    alerts: int = Field(description="Alerts of that night the filter's conditions hold for")
    objects: int = Field(description="Distinct objects among them")
    total: int = Field(description="Every alert the history holds for that night")
    share: float = Field(description="alerts / total")
    sample: list[dict[str, Any]] = Field(description="Some of the filter's rows that night")


class BacktestResponse(BaseModel):
    nights: list[NightOut] = Field(description="Newest night first")
    warnings: list[str] = Field(description="Nights on which the filter matched more than warn_share of the alerts")
    warn_share: float
    elapsed_s: float


class RecordOut(BaseModel):
    partition: int
    offset: int
    timestamp: str | None = Field(description="When the broker took the record (ISO 8601 UTC)")
    key: str | None = Field(description="The record's key: the diaObjectId, as text")
    headers: dict[str, str] = Field(description="filter_id, schema_version, ...")
    value: Any = Field(description="The record as consumers read it (parsed JSON; text when it is not JSON)")
    size: int = Field(description="Bytes of the value")


class RecordPage(BaseModel):
    filter_id: str
    topic: str
    records: list[RecordOut] = Field(description="Newest first")
    next_before: str | None = Field(description="Pass as ?before= for the next, older page; null: nothing older")
    message: str = Field(description="What the page shows, in words (e.g. why it is empty)")
    complete: bool = Field(description="False when the cluster was too slow to give every record of the page")


class ColumnOut(BaseModel):
    name: str
    type: str
    description: str
    null_reason: str | None = Field(None, description="Set when the column is always NULL here: why")


class TableOut(BaseModel):
    name: str
    description: str = ""
    columns: list[ColumnOut]


class SchemaResponse(BaseModel):
    tables: list[TableOut]


class ObjectOut(BaseModel):
    diaObjectId: int
    objects: dict[str, Any] = Field(description="The object's features (the objects row)")
    lite: dict[str, Any] = Field(description="Lite lightcurve: diaSourcesList and diaForcedSourcesList")
    annotations: list[dict[str, Any]] = Field(description="Latest annotation of each annotator (what filters see)")
    annotation_history: list[dict[str, Any]] = Field(default_factory=list,
                                                     description="Every annotation upload, newest first")
    context: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                               description="Context rows by table (sherlock_classifications, crossmatch_tns)")
    history: dict[str, list[dict[str, Any]]] | None = Field(
        default=None, description="With history=true: every detection and forced measurement the history holds, "
                                  "oldest first (detections, forced_photometry)")


class Me(BaseModel):
    user_id: int
    name: str
    email: str
    is_admin: bool


class StreamCredentials(BaseModel):
    """Your Kafka login, shown once: keep the password (issuing again replaces it)."""

    username: str = Field(description="SASL/SCRAM username: user-<your id>")
    password: str = Field(description="Shown only in this answer; nobody can show it again")
    mechanism: str = Field(description="SASL mechanism: SCRAM-SHA-512")
    security_protocol: str = Field(description="SASL_SSL (TLS); the local stack: SASL_PLAINTEXT")
    bootstrap_servers: str = Field(description="Where to connect")
    consumer_group_prefix: str = Field(description="Your consumer group ids must start with this")
    message: str


class StreamCredentialsState(BaseModel):
    username: str = Field(description="Your Kafka username (whether or not it has a password now)")
    issued: bool = Field(description="Whether you hold stream credentials")
    bootstrap_servers: str
    security_protocol: str
    consumer_group_prefix: str


class ValidationProblem(BaseModel):
    where: str = Field(description="Where in the request: e.g. body.name, query.limit")
    problem: str


class ValidationErrorBody(ErrorBody):
    problems: list[ValidationProblem]


def error_responses(*codes: int, success: int = 200) -> dict[int, dict[str, Any]]:
    """OpenAPI ``responses``: the success (described by the route's return type) and the errors it can give."""
    meaning = {
        400: "The request cannot be done as asked (e.g. the filter's SQL was refused; the checker says where; "
             "run_timed_out: the filter took longer than its time limit)",
        401: "No valid 'Authorization: Token <key>' header",
        403: "Not yours to change, or limit_exceeded: a per-user limit (the detail names the setting)",
        404: "No such resource (or another user's private filter)",
        409: "Clash: the topic name is taken, or the filter changed since you read it",
        429: "rate_limited: too many run-now requests this minute; retry_after_s says when to try again",
        503: "The Kafka cluster did not answer; the detail says what was done and how to retry",
    }
    out: dict[int, dict[str, Any]] = {success: {"description": "Created" if success == 201 else "OK"}}
    out |= {
        code: {"description": meaning[code], "content": {"application/json": {"model": ErrorBody}}}
        for code in codes
    }
    out[422] = {"description": "The body or a parameter has the wrong shape; 'problems' says where",
                "content": {"application/json": {"model": ValidationErrorBody}}}
    return out


class WatchlistCreate(BaseModel):
    """A new watchlist from text: one source a line, ``RA, Dec, name[, radius]`` (docs/watchlists.md)."""

    model_config = ConfigDict(extra="forbid")

    name: PrintableName = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=MAX_TEXT_BYTES,
                      description="Lines 'RA, Dec, name[, radius]' (',' or '|'), decimal degrees, radius in arcsec; "
                      f"an optional header line; at most {MAX_SOURCES:,} sources")
    radius: float = Field(default=DEFAULT_RADIUS_ARCSEC, gt=0, le=MAX_RADIUS_ARCSEC,
                          description="Default radius (arcsec) of the lines that give none")
    description: str = Field(default="", max_length=4000)
    public: bool = Field(default=False, description="Every user may see it and use it in filters")
    active: bool = Field(default=True, description="Matched against alerts (an inactive one gives no hits)")


class WatchlistPatch(BaseModel):
    """Only the settings to change (the sources of a watchlist are fixed: create a new one)."""

    model_config = ConfigDict(extra="forbid")

    name: PrintableName | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=4000)
    public: bool | None = None
    active: bool | None = None


class WatchlistOut(BaseModel):
    wl_id: int = Field(description="Its id: write watchlist:<wl_id> in a filter's tables")
    owner: int
    name: str
    description: str
    radius: float = Field(description="Default radius, arcsec")
    public: bool
    active: bool
    count: int = Field(description="How many sources it holds")
    created: str
    version: int

    @classmethod
    def of(cls, w: Watchlist) -> WatchlistOut:
        return cls(**dataclasses.asdict(w))


class WatchlistList(BaseModel):
    watchlists: list[WatchlistOut]


class WatchlistText(BaseModel):
    wl_id: int
    text: str = Field(description="The sources as text that creates the same watchlist again")


class WatchmapCone(BaseModel):
    """A cone to build a watchmap from: every HEALPix cell of ``depth`` it overlaps."""

    model_config = ConfigDict(extra="forbid")

    ra: float = Field(ge=-360, le=720, description="Centre RA, degrees")
    dec: float = Field(ge=-90, le=90, description="Centre Dec, degrees")
    radius: float = Field(gt=0, le=MAX_CONE_RADIUS_DEG * 3600, description="Radius, arcsec")
    depth: int | None = Field(default=None, ge=0, le=MAX_CONE_DEPTH,
                              description="HEALPix depth of the cells (default: cells at most 1/20 of the radius wide)")


class WatchmapCreate(BaseModel):
    """A new watchmap: a MOC's ASCII or JSON form (``moc``), or a ``cone``; exactly one (docs/watchlists.md)."""

    model_config = ConfigDict(extra="forbid")

    name: PrintableName = Field(min_length=1, max_length=100)
    moc: str | None = Field(default=None, min_length=1, max_length=MAX_MOC_BYTES,
                            description="ASCII MOC ('3/1-3 5 4/100') or JSON MOC ('{\"3\": [1, 2, 3]}'); "
                            f"at most {MAX_RANGES:,} ranges of cells; FITS is not supported yet")
    cone: WatchmapCone | None = None
    description: str = Field(default="", max_length=4000)
    public: bool = Field(default=False, description="Every user may see it and use it in filters")
    active: bool = Field(default=True, description="Matched against alerts (an inactive one gives no hits)")


class WatchmapPatch(BaseModel):
    """Only the settings to change (the area of a watchmap is fixed: create a new one)."""

    model_config = ConfigDict(extra="forbid")

    name: PrintableName | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=4000)
    public: bool | None = None
    active: bool | None = None


class WatchmapOut(BaseModel):
    ar_id: int = Field(description="Its id: write watchmap:<ar_id> (or area:<ar_id>) in a filter's tables")
    owner: int
    name: str
    description: str
    public: bool
    active: bool
    ranges: int = Field(description="How many runs of cells the MOC holds")
    depth: int = Field(description="The MOC's deepest HEALPix depth")
    sky_fraction: float = Field(description="The fraction of the sky it covers")
    created: str
    version: int

    @classmethod
    def of(cls, w: Watchmap) -> WatchmapOut:
        return cls(**dataclasses.asdict(w))


class WatchmapList(BaseModel):
    watchmaps: list[WatchmapOut]


class WatchmapText(BaseModel):
    ar_id: int
    moc: str = Field(description="The MOC's ASCII form (creates the same watchmap again)")
