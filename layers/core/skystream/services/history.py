"""What a user asks of the history: run a filter over every object, backtest it night by night, and
read an object's whole lightcurve.

The history (``skystream.history.schema``) keeps one ``objects_history`` row per alert, by night; an
engine (DuckDB locally, Athena on AWS: ``HistoryEngine``) runs SQL over it. The filter's SQL is
translated per engine by ``skystream.history.dialects`` (refused, never answered differently, where the
engine cannot do exactly what the matcher does), and the statements are built by
``skystream.history.queries``. This module decides what is run and what the user gets back.

- **Run now over everything** (``run_all``): the filter over the latest row of every object the history
  holds, paged by ``limit``/``offset``, within the request's time limit.
- **Backtest** (``backtest``): for each of the last ``nights`` nights the history holds, how many alerts
  and objects the filter would have matched, out of how many alerts that night, and a sample of its
  rows. ``mjdnow()`` is the end of that night, as if the filter had run then. A night on which the
  filter matches more than :data:`BACKTEST_WARN_SHARE` of the alerts gets a warning: such a filter would
  flood its topic (BOOM refuses to activate those; skystream warns and lets the user decide).
- **Lightcurve** (``lightcurve``): every detection and forced measurement of an object the history
  holds, oldest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from skystream.domain.errors import BadRequest, HistoryQueryFailed
from skystream.domain.filters import StoredFilter
from skystream.filters.compiler import compiled_filter
from skystream.filters.functions import make_mjdnow
from skystream.history import queries
from skystream.history.dialects import history_sql
from skystream.history.schema import DETECTIONS, FORCED_PHOTOMETRY
from skystream.outputs.formats import clean
from skystream.ports import HistoryEngine, RateCounter
from skystream.services.filters import admit_run

BACKTEST_WARN_SHARE = 0.01
"""A night on which a filter matches more than this share of the alerts is flagged: 1% of a Rubin night
(~10 million alerts) is 100,000 records, more than any person reads."""
MAX_BACKTEST_NIGHTS = 30
MAX_SAMPLE = 100
MAX_RUN_OFFSET = 1_000_000


@dataclass(frozen=True)
class HistoryLimits:
    """How long one history request may run, and how often a user may ask (shared with run-now's count)."""

    deadline_s: float  # the whole request (the API's own timeout is 29 s)
    per_minute: int


@dataclass
class HistoryRun:
    rows: list[dict[str, Any]]
    truncated: bool  # more rows matched than ``limit`` (from ``offset``)
    nights: int  # nights the history holds
    elapsed_s: float


@dataclass
class NightResult:
    night: int
    alerts: int  # alerts (objects_history rows) of the night the filter's conditions hold for
    objects: int  # distinct objects among them
    total: int  # every alert of the night
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.alerts / self.total if self.total else 0.0


@dataclass
class Backtest:
    nights: list[NightResult]  # newest first
    warnings: list[str]
    elapsed_s: float


def night_end_mjd(night: int) -> float:
    """The last moment of ``night`` (``domain.objects.night_of`` rounds at noon UTC): the clock a backtest
    gives ``mjdnow()`` for that night."""
    return night + 0.5


class HistoryService:
    """Filters and lightcurves over the history through one ``engine``; ``rates`` counts requests per user
    under the same key as run-now, ``clock`` gives ``mjdnow()`` for run-now."""

    def __init__(self, engine: HistoryEngine, *, rates: RateCounter, limits: HistoryLimits,
                 clock: Callable[[], float] = time.time):
        self.engine = engine
        self.rates = rates
        self.limits = limits
        self.clock = clock

    def _admit(self, user_id: int) -> float:
        """Count the request as a run (RUN_NOW_PER_MINUTE) and give its deadline."""
        admit_run(self.rates, user_id, self.limits.per_minute)
        return time.monotonic() + self.limits.deadline_s

    @staticmethod
    def _left(deadline: float, what: str) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise HistoryQueryFailed(f"the history request ran out of its time before {what}; ask for fewer nights "
                                     "or a smaller page")
        return left

    def run_all(self, user_id: int, f: StoredFilter, *, limit: int, offset: int = 0) -> HistoryRun:
        """``f`` over the latest state of every object in the history: up to ``limit`` rows from ``offset``."""
        if not 0 <= offset <= MAX_RUN_OFFSET:
            raise BadRequest(f"offset must be between 0 and {MAX_RUN_OFFSET}, not {offset}")
        started = time.monotonic()
        deadline = self._admit(user_id)
        now_mjd = make_mjdnow(self.clock)()  # the matcher's own clock reading
        translated = history_sql(compiled_filter(f), self.engine.dialect, now_mjd=now_mjd)
        # One row more than asked says whether more matched.
        held = self.engine.nights()
        sql = queries.latest_rows(translated, self.engine.dialect, limit=limit + 1, offset=offset, nights=span(held))
        rows = self.engine.query(sql, time_limit_s=self._left(deadline, "the filter ran"))
        return HistoryRun(rows=named(rows[:limit], translated.output_columns), truncated=len(rows) > limit,
                          nights=len(held), elapsed_s=time.monotonic() - started)

    def backtest(self, user_id: int, f: StoredFilter, *, nights: int, sample: int = 5) -> Backtest:
        """Per night, newest first, over the last ``nights`` nights the history holds."""
        if not 1 <= nights <= MAX_BACKTEST_NIGHTS:
            raise BadRequest(f"nights must be between 1 and {MAX_BACKTEST_NIGHTS}, not {nights}")
        if not 0 <= sample <= MAX_SAMPLE:
            raise BadRequest(f"sample must be between 0 and {MAX_SAMPLE}, not {sample}")
        started = time.monotonic()
        deadline = self._admit(user_id)
        compiled = compiled_filter(f)
        dialect = self.engine.dialect
        results: list[NightResult] = []
        for night in self.engine.nights()[:nights]:
            translated = history_sql(compiled, dialect, now_mjd=night_end_mjd(night))
            counts = self.engine.query(queries.night_counts(translated, dialect, night),
                                       time_limit_s=self._left(deadline, f"night {night} was counted"))
            row = counts[0] if counts else {}
            result = NightResult(night=night, alerts=int(row.get("alerts") or 0), objects=int(row.get("objects") or 0),
                                 total=int(row.get("total") or 0))
            if sample and result.alerts:
                rows = self.engine.query(queries.night_sample(translated, dialect, night, sample),
                                         time_limit_s=self._left(deadline, f"night {night}'s sample was read"))
                result.sample = named(rows, translated.output_columns)
            results.append(result)
        return Backtest(nights=results, warnings=flood_warnings(results), elapsed_s=time.monotonic() - started)

    def lightcurve(self, dia_object_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every detection and forced measurement of the object in the history, oldest first (empty lists
        for an object the history does not hold)."""
        detections_sql, forced_sql = queries.lightcurve(self.engine.dialect, dia_object_id,
                                                        span(self.engine.nights()))
        deadline = time.monotonic() + self.limits.deadline_s
        detections = self.engine.query(detections_sql, time_limit_s=self._left(deadline, "detections were read"))
        forced = self.engine.query(forced_sql, time_limit_s=self._left(deadline, "forced photometry was read"))
        return {"detections": named(detections, DETECTIONS.column_names),
                "forced_photometry": named(forced, FORCED_PHOTOMETRY.column_names)}


def span(nights: Sequence[int]) -> tuple[int, int] | None:
    """(first, last) of the nights the history holds, to bound what the engine lists; None when it holds none."""
    return (min(nights), max(nights)) if nights else None


def named(rows: list[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """Rows JSON-safe, with each column under its name as the filter or schema spells it: Athena (through
    Glue, which keeps names in lower case) answers ``diaobjectid`` for ``diaObjectId``."""
    spelled = {name.lower(): name for name in names}
    return [clean({spelled.get(key.lower(), key): value for key, value in row.items()}) for row in rows]


def flood_warnings(results: list[NightResult]) -> list[str]:
    """One line per night on which the filter matched more than :data:`BACKTEST_WARN_SHARE` of the alerts."""
    return [f"night {r.night}: the filter matched {r.alerts} of {r.total} alerts ({r.share:.1%}), more than "
            f"{BACKTEST_WARN_SHARE:.0%}: its topic would get {r.alerts} records that night; narrow its conditions"
            for r in results if r.share > BACKTEST_WARN_SHARE]

