"""A batch's time is a budget shared fairly between users (issue 13).

One user's expensive filters must not delay another user's records: cheap filters get a
first short turn, owners take turns, each owner gets a fair share of what the batch has,
each filter's records are produced as soon as it has run, and what does not fit is
skipped and counted (not counted as a failure). Most tests use an engine whose filters
"take" a set time on a fake clock, so the order and the shares are exact; the last uses
the real SQLite engine and the real clock.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from fakes import MemoryFailureCounts, RecordingNotice, RecordingProducer, matcher

from skystream.domain.filters import StoredFilter
from skystream.domain.objects import ObjectContext
from skystream.filters.batch import BatchRows
from skystream.filters.compiler import CompiledFilter
from skystream.filters.engine import FilterOutcome, SqliteEngine
from skystream.filters.schedule import COSTS, PROBE_S, BatchBudget, CostMemory, FairSchedule
from skystream.services.matching import SKIPPED_FOR_BUDGET
from skystream.services.suspension import Suspensions, forget_known_counts

pytestmark = pytest.mark.unit

TIME_LIMIT_S = 2.0


@pytest.fixture(autouse=True)
def fresh_memory() -> Iterator[None]:
    """Each test starts as a fresh container: no remembered costs or failure counts."""
    COSTS.clear()
    forget_known_counts()
    yield
    COSTS.clear()
    forget_known_counts()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Log:
    """What happened, in order: ("evaluate", filter id, time limit) and ("produce", filter id, clock)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.events: list[tuple[str, str, float]] = []


class CostedEngine:
    """Each filter takes its cost on the fake clock (at most the limit it is given; more is a timeout)."""

    time_limit_s = TIME_LIMIT_S

    def __init__(self, log: Log, costs: Mapping[str, float]) -> None:
        self.log = log
        self.costs = costs
        self.ids: list[int] = []

    def session(self, batch: BatchRows, filters: Sequence[CompiledFilter]) -> CostedEngine:
        self.ids = [int(row["diaObjectId"]) for row in batch.objects]
        return self

    def evaluate(self, key: Hashable, compiled: CompiledFilter, time_limit_s: float) -> FilterOutcome:
        cost = self.costs[str(key)]
        took = min(cost, time_limit_s)
        self.log.clock.now += took
        self.log.events.append(("evaluate", str(key), round(time_limit_s, 3)))
        if cost > time_limit_s:
            return FilterOutcome(error=f"stopped after {took:.2f} s", timed_out=True, elapsed_s=took)
        return FilterOutcome(rows=[{"diaObjectId": i} for i in self.ids], elapsed_s=took)

    def close(self) -> None:
        pass

    def __enter__(self) -> CostedEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def kafka_filter(fid: str, owner: int, conditions: str = "") -> StoredFilter:
    return StoredFilter(filter_id=fid, owner=owner, name=fid, selected="objects.diaObjectId, objects.ra",
                        tables="objects", conditions=conditions, output="kafka_plain", on_alert=True,
                        topic=f"lasair_{owner}{fid}", created="t", modified="t")


def contexts(n: int = 3) -> list[ObjectContext]:
    return [ObjectContext(row={"diaObjectId": i, "ra": float(i), "decl": -1.0, "lastDiaSourceMjdTai": 61000.0},
                          lite={}) for i in range(n)]


def run(filters: list[StoredFilter], costs: dict[str, float], *, budget_s: float | None,
        counts: MemoryFailureCounts | None = None) -> tuple[Any, Log]:
    clock = Clock()
    log = Log(clock)
    budget = BatchBudget(None if budget_s is None else clock.now + budget_s, clock)
    producer = RecordingProducer(
        on_produce=lambda topic, headers: log.events.append(("produce", str(headers["filter_id"]), clock.now)))
    health = Suspensions(counts or MemoryFailureCounts(), notify=RecordingNotice(), after=5)
    report = matcher(producer=producer, engine=CostedEngine(log, costs), health=health).run_and_deliver(
        contexts(), filters, trigger="alert", budget=budget)
    return report, log


def evaluations(log: Log) -> list[tuple[str, float]]:
    return [(fid, limit) for kind, fid, limit in log.events if kind == "evaluate"]


def first_produce(log: Log, fid: str) -> tuple[int, float]:
    """(position in the log, fake clock) of the first record of ``fid``."""
    return next((i, at) for i, (kind, f, at) in enumerate(log.events) if kind == "produce" and f == fid)


A_EXPENSIVE = [kafka_filter(f"a{i}", owner=1) for i in range(1, 5)]
B_CHEAP = [kafka_filter(f"b{i}", owner=2) for i in range(1, 4)]


def test_with_a_tiny_budget_what_does_not_fit_is_skipped_and_counted_per_filter() -> None:
    costs = {**{f.filter_id: 1.5 for f in A_EXPENSIVE}, **{f.filter_id: 0.01 for f in B_CHEAP}}
    counts = MemoryFailureCounts()
    report, log = run(A_EXPENSIVE + B_CHEAP, costs, budget_s=2.0, counts=counts)
    # every cheap filter ran and delivered; of the expensive ones, only what fits the 2 s
    assert all(report.per_filter[f.filter_id].produced == 3 for f in B_CHEAP)
    assert report.per_filter["a1"].produced == 3
    assert {fid for fid, r in report.per_filter.items() if r.skipped} == {"a2", "a3", "a4"}
    assert all(report.per_filter[f].skipped == SKIPPED_FOR_BUDGET and report.per_filter[f].error is None
               for f in ("a2", "a3", "a4"))
    assert (report.skipped_filters, report.failed_filters, report.filters) == (3, 0, 7)
    assert counts.writes == 0  # skipped is not failed: nothing counts towards suspension
    assert log.clock.now - 1000.0 <= 2.0  # the budget held


def test_a_cheap_filter_of_another_user_is_delivered_before_expensive_filters_run() -> None:
    """User A has three filters that time out; user B's one cheap filter goes out first, every batch."""
    a = A_EXPENSIVE[:3]
    b = kafka_filter("b1", owner=2)
    costs = {"a1": 5.0, "a2": 5.0, "a3": 5.0, "b1": 0.01}
    report, log = run([*a, b], costs, budget_s=None)
    position, at = first_produce(log, "b1")
    before = [fid for kind, fid, _ in log.events[:position] if kind == "evaluate"]
    assert before == ["a1", "b1"]  # behind one short first turn of A's, no more
    assert at - 1000.0 <= PROBE_S + 0.01 + 1e-9
    assert report.per_filter["b1"].produced == 3 and report.failed_filters == 3  # A's time out at 2 s each

    # The next batch in this container remembers the costs: B's filter runs first, A's get no first turns.
    report, log = run([*a, b], costs, budget_s=None)
    assert evaluations(log)[0] == ("b1", PROBE_S)
    assert first_produce(log, "b1")[1] - 1000.0 <= 0.01 + 1e-9
    assert evaluations(log)[1:] == [("a1", TIME_LIMIT_S), ("a2", TIME_LIMIT_S), ("a3", TIME_LIMIT_S)]


def test_owners_get_equal_shares_and_what_one_leaves_goes_to_the_other() -> None:
    a = [kafka_filter(f"a{i}", owner=1) for i in range(1, 4)]
    c = kafka_filter("c1", owner=3)
    costs = {"a1": 1.0, "a2": 1.0, "a3": 1.0, "c1": 1.0}
    run([*a, c], costs, budget_s=None)  # a first batch: the container learns the costs
    report, log = run([*a, c], costs, budget_s=2.5)
    # 2.5 s for two owners: 1.25 each. A's first filter and C's fit; A's others would take A over its share.
    assert [fid for fid, _ in evaluations(log)] == ["a1", "c1"]
    assert {fid for fid, r in report.per_filter.items() if r.skipped} == {"a2", "a3"}

    # With C absent, A gets it all: what fits in 2.5 s.
    report, log = run(a, costs, budget_s=2.5)
    assert [fid for fid, _ in evaluations(log)] == ["a1", "a2"]
    assert {fid for fid, r in report.per_filter.items() if r.skipped} == {"a3"}


def test_a_filter_stopped_at_a_budget_share_is_skipped_not_failed() -> None:
    schedule: FairSchedule[str] = FairSchedule([("x", 1, "x")], time_limit_s=2.0, costs=CostMemory(),
                                               budget=BatchBudget(time.monotonic() + 0.5))
    turns = iter(schedule)
    first = next(turns)
    assert first.probe and first.time_limit_s == PROBE_S
    assert schedule.finished(first, elapsed_s=PROBE_S, timed_out=True) == "again"
    second = next(turns)
    assert not second.probe and second.time_limit_s < 0.5
    assert schedule.finished(second, elapsed_s=second.time_limit_s, timed_out=True) == "skipped"
    assert schedule.skipped == ["x"]


def test_budget_from_the_lambda_remaining_time_keeps_the_reserve_back() -> None:
    clock = Clock()
    budget = BatchBudget.from_remaining(120_000, 35.0, clock)
    assert budget.left() == pytest.approx(85.0)
    clock.now += 80
    assert budget.left() == pytest.approx(5.0)
    assert BatchBudget.from_remaining(None, 35.0).left() == float("inf")


def test_with_the_real_engine_a_cheap_filter_is_on_the_wire_before_the_expensive_ones_run() -> None:
    """SQLite and the wall clock: A's three filters each cost over a second; B's records go out at once."""
    pattern = "%" + "a" * 197 + "b%"
    padding = "a" * 990
    slow = " OR ".join([f"CONCAT(objects.ra, '{padding}') LIKE '{pattern}'"] * 5)
    a = [kafka_filter(f"a{i}", owner=1, conditions=slow) for i in range(1, 4)]
    b = kafka_filter("b1", owner=2, conditions="objects.ra < 10")
    objects = [ObjectContext(row={"diaObjectId": i, "ra": float(i), "lastDiaSourceMjdTai": 61000.0}, lite={})
               for i in range(1000)]
    producer = RecordingProducer()
    health = Suspensions(MemoryFailureCounts(), notify=RecordingNotice(), after=5)
    start = time.monotonic()
    report = matcher(producer=producer, engine=SqliteEngine(time_limit_s=1.0), health=health).run_and_deliver(
        objects, [*a, b], trigger="alert")
    elapsed = time.monotonic() - start
    b_sent = [at - start for (topic, *_), at in zip(producer.sent, producer.times, strict=True) if topic == "lasair_2b1"]
    assert len(b_sent) == 10 and report.per_filter["b1"].produced == 10
    assert all(report.per_filter[f.filter_id].error for f in a)  # each timed out at its 1 s
    assert elapsed >= 3.0  # so A's filters really took their time...
    assert max(b_sent) < 0.6  # ...but B's records were produced before the first of them ran out
