"""In what order, and for how long, a batch's filters run: a time budget shared fairly by owners.

A batch has a deadline (the Lambda's remaining time minus a reserve for delivery and the
final flush). Within it, no user's filters may delay another user's:

1. **Cheap first.** Every filter not known to be expensive gets a short first turn
   (:data:`PROBE_S`), owners taking turns (round robin), each owner's cheapest filter first.
   Most filters finish in it, and their records are delivered at once, so a cheap filter
   never waits behind someone else's expensive one.
2. **The rest, shared.** Filters known to be expensive (their cost is remembered per
   container, per filter version) and those that did not finish their first turn then run,
   the owner who has used the least of this batch's time first. Each owner may use an equal
   share of the batch's time (what an owner who needed less leaves goes to the others), and
   a filter never more than the per-filter time limit. A filter whose remembered cost does
   not fit what its owner has left is not run.

What does not fit is *skipped* (not a failure: it is not the filter's fault, and it does
not count towards suspension); a filter stopped at its own time limit has *timed out*.
This module decides; ``skystream.services.matching`` evaluates and delivers.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

PROBE_S = 0.1  # first turn of a filter not known to be expensive
MIN_TURN_S = 0.02  # a turn shorter than this is not worth starting: skipped instead
COST_MEMORY_SIZE = 10_000  # filter versions whose cost a container remembers

J = TypeVar("J")
Verdict = Literal["done", "timed_out", "again", "skipped"]


@dataclass(frozen=True)
class BatchBudget:
    """The batch's deadline on ``clock`` (``time.monotonic``); ``None``: no limit but each filter's own."""

    deadline: float | None = None
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_remaining(cls, remaining_ms: int | None, reserve_s: float,
                       clock: Callable[[], float] = time.monotonic) -> BatchBudget:
        """From a Lambda context's ``get_remaining_time_in_millis()``, keeping ``reserve_s`` back."""
        if remaining_ms is None:
            return cls(None, clock)
        return cls(clock() + remaining_ms / 1000.0 - reserve_s, clock)

    def left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - self.clock()


class CostMemory:
    """Seconds each filter version took on its last batch, per container (bounded, oldest forgotten).

    A version never seen has no cost: it gets a first turn like a cheap one. A timed-out run
    is remembered as at least its limit, so the filter starts in the second phase next time.
    """

    def __init__(self, size: int = COST_MEMORY_SIZE) -> None:
        self._size = size
        self._costs: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()  # the local stack runs the matcher and the annotation trigger in threads

    def get(self, key: Hashable) -> float | None:
        return self._costs.get(key)

    def record(self, key: Hashable, seconds: float) -> None:
        with self._lock:
            self._costs[key] = seconds
            self._costs.move_to_end(key)
            while len(self._costs) > self._size:
                self._costs.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._costs.clear()


COSTS = CostMemory()  # the container's memory, kept between invocations


@dataclass(frozen=True)
class Turn(Generic[J]):
    """Run ``job`` for at most ``time_limit_s``. ``probe``: a first turn (not finishing is not a failure)."""

    job: J
    time_limit_s: float
    probe: bool
    index: int  # the job's position in the list the schedule was made from


@dataclass(order=True)
class _Waiting:
    cost: float
    index: int


class FairSchedule(Generic[J]):
    """Turns for one batch's filters. Iterate for the turns; after each, call :meth:`finished`.

    ``jobs`` are (job, owner, cost key); the caller's job objects are handed back in the turns.
    Jobs the budget cannot fit end up in :attr:`skipped`, in the order they were given up.
    """

    def __init__(self, jobs: list[tuple[J, Hashable, Hashable]], *, time_limit_s: float,
                 budget: BatchBudget | None = None, costs: CostMemory | None = None,
                 probe_s: float = PROBE_S) -> None:
        self.time_limit_s = time_limit_s
        self.budget = budget or BatchBudget()
        self.costs = COSTS if costs is None else costs
        self.probe_s = min(probe_s, time_limit_s)
        self.skipped: list[J] = []
        self._jobs = jobs
        self._spent: dict[Hashable, float] = {owner: 0.0 for _, owner, _ in jobs}
        self._first: dict[Hashable, list[_Waiting]] = {}  # by owner: a short first turn each
        self._waiting: dict[Hashable, list[_Waiting]] = {}  # by owner: the second phase
        for index, (_, owner, cost_key) in enumerate(jobs):
            cost = self.costs.get(cost_key)
            if cost is None or cost <= self.probe_s:
                self._first.setdefault(owner, []).append(_Waiting(cost or 0.0, index))
            else:
                self._waiting.setdefault(owner, []).append(_Waiting(cost, index))

    # -- the turns ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Turn[J]]:
        yield from self._first_turns()
        yield from self._shared_turns()

    def _first_turns(self) -> Iterator[Turn[J]]:
        """Round robin over owners, each owner's cheapest first, each a short turn."""
        queues = [sorted(queue) for queue in self._first.values()]
        while any(queues):
            for queue in queues:
                if not queue:
                    continue
                index = queue.pop(0).index
                limit = min(self.probe_s, self.budget.left())
                if limit < MIN_TURN_S:
                    self.skipped.append(self._jobs[index][0])
                    continue
                yield Turn(self._jobs[index][0], limit, True, index)

    def _shared_turns(self) -> Iterator[Turn[J]]:
        """Least-served owner first, each within a fair share of the batch's time.

        The share is water-filling: the time left plus what the owners still waiting have
        spent, split equally between them (an owner who is done, having needed less, leaves
        the rest to the others). A turn may use the owner's share minus what it has spent.
        """
        while True:
            pending = [owner for owner, queue in self._waiting.items() if queue]
            if not pending:
                return
            owner = min(pending, key=lambda o: self._spent[o])
            share = (self.budget.left() + sum(self._spent[o] for o in pending)) / len(pending)
            queue = self._waiting[owner]
            queue.sort()
            waiting = queue.pop(0)
            limit = min(self.time_limit_s, share - self._spent[owner])
            if limit < MIN_TURN_S or (limit < self.time_limit_s and waiting.cost > limit):
                self.skipped.append(self._jobs[waiting.index][0])
                continue
            yield Turn(self._jobs[waiting.index][0], limit, False, waiting.index)

    # -- what happened ------------------------------------------------------------------------

    def charge(self, turn: Turn[J], seconds: float) -> None:
        """Time spent on the turn's filter besides evaluating it (delivering its records)."""
        self._spent[self._jobs[turn.index][1]] += seconds

    def finished(self, turn: Turn[J], *, elapsed_s: float, timed_out: bool) -> Verdict:
        """Record a turn's result (its owner is charged ``elapsed_s``); returns what it means:

        ``"done"`` (it ran to the end, or failed by itself), ``"timed_out"`` (stopped at its
        own time limit), ``"again"`` (a first turn it did not finish: it runs again in the
        second phase) or ``"skipped"`` (stopped at a share of the budget below its limit).
        """
        _, owner, cost_key = self._jobs[turn.index]
        self._spent[owner] += elapsed_s
        if not timed_out:
            self.costs.record(cost_key, elapsed_s)
            return "done"
        cost = max(elapsed_s, turn.time_limit_s)
        self.costs.record(cost_key, cost)
        if turn.time_limit_s >= self.time_limit_s:
            return "timed_out"
        if turn.probe:
            self._waiting.setdefault(owner, []).append(_Waiting(cost, turn.index))
            return "again"
        self.skipped.append(turn.job)
        return "skipped"
