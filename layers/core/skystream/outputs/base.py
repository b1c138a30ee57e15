"""Where a filter's matches go: one strategy per output family, chosen by the filter's ``output``.

Like powertools' Kafka deserializers (one module per format behind ``deserializer/base.py``),
each output family is a small module behind the :class:`OutputStrategy` interface:
``outputs/kafka.py`` (``kafka_plain``, ``kafka_lite``, ``kafka_full``: records on the filter's
topic within the size limit and the daily byte quota) and ``outputs/email.py`` (``email``: rows
kept for the daily digest); ``none`` only counts. :class:`Outputs` maps each output kind to
its strategy, so the matcher hands rows over without knowing where they go, and a new output
(a webhook, say) is one module and one entry here.

A strategy is long-lived (it holds its ports); each run of filters over a batch opens an
:class:`OutputRun` with :meth:`OutputStrategy.start`, which keeps what belongs to that run
(full alerts read once, whether anything needs flushing) so concurrent runs never share it.
The orchestrator calls :meth:`OutputRun.finish` once per run, after every filter delivered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from skystream.domain.filters import KAFKA_OUTPUTS, Output, StoredFilter
from skystream.domain.matches import FilterResult
from skystream.domain.objects import ObjectContext
from skystream.outputs.formats import utc_stamp


@dataclass(frozen=True)
class MatchedBatch:
    """What every delivery of one run shares: the batch's objects by id and the run's moment."""

    objects: Mapping[int, ObjectContext]
    utc: str  # the ``UTC`` field of every record of the run
    day: dt.date  # the UTC day byte quotas and the digest count against

    @classmethod
    def of(cls, contexts: Sequence[ObjectContext], moment: dt.datetime) -> MatchedBatch:
        return cls(objects={ctx.dia_object_id: ctx for ctx in contexts}, utc=utc_stamp(moment),
                   day=moment.astimezone(dt.UTC).date())


class OutputRun(Protocol):
    """One run's deliveries through one strategy."""

    def deliver(self, f: StoredFilter, rows: list[dict[str, Any]]) -> FilterResult:
        """Send one filter's matching rows now; the result counts what they became (``matched`` included).

        An ``error`` in the result means some rows could not be delivered (the filter is reported
        failed for this batch); it never raises for one filter's rows.
        """

    def finish(self) -> None:
        """After the run's last delivery: make what was sent durable (raises: the batch is retried)."""


class OutputStrategy(Protocol):
    def start(self, batch: MatchedBatch) -> OutputRun: ...


class _CountOnly:
    """Output ``none``: matches are counted, sent nowhere (a muted filter, or one run only on request)."""

    def start(self, batch: MatchedBatch) -> _CountOnly:
        return self

    def deliver(self, f: StoredFilter, rows: list[dict[str, Any]]) -> FilterResult:
        return FilterResult(matched=len(rows))

    def finish(self) -> None:
        return None


COUNT_ONLY = _CountOnly()


class Outputs:
    """The strategy of each output kind; one :meth:`session` per run of filters."""

    def __init__(self, strategies: Mapping[Output, OutputStrategy]):
        self._strategies = {"none": COUNT_ONLY, **strategies}

    def strategy(self, kind: Output) -> OutputStrategy:
        try:
            return self._strategies[kind]
        except KeyError:
            raise ValueError(f"no output strategy for output {kind!r}; known: {', '.join(sorted(self._strategies))}"
                             ) from None

    def session(self, batch: MatchedBatch) -> OutputSession:
        return OutputSession(self, batch)

    @classmethod
    def of(cls, *, kafka: OutputStrategy, email: OutputStrategy) -> Outputs:
        """Every output kind a filter can have: the three Kafka kinds share one strategy (one flush)."""
        return cls({**dict.fromkeys(KAFKA_OUTPUTS, kafka), "email": email})  # type: ignore[dict-item]


class OutputSession:
    """The runs one batch opened, one per strategy used (started on first use), finished together."""

    def __init__(self, outputs: Outputs, batch: MatchedBatch):
        self._outputs = outputs
        self._batch = batch
        self._runs: dict[int, OutputRun] = {}

    def deliver(self, f: StoredFilter, rows: list[dict[str, Any]]) -> FilterResult:
        if not rows:
            return FilterResult()
        strategy = self._outputs.strategy(f.output)
        run = self._runs.get(id(strategy))
        if run is None:
            run = self._runs[id(strategy)] = strategy.start(self._batch)
        return run.deliver(f, rows)

    def finish(self) -> None:
        for run in self._runs.values():
            run.finish()
