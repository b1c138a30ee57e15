"""The nesting bound: every construct nested MAX_NESTING deep runs; one level more is refused, with where.

On main 737fbe3 the documented bound (300 levels) was not what held: 39 nested parentheses
were refused by a RecursionError (how deep depended on the caller's stack) and 31 nested
calls by SQLite's parser stack. Run-now through the API (engine on a batch of 30 objects)
is the proof that what the checker accepts really runs.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable

import pytest
from test_api import World, world  # noqa: F401  (world is a fixture)

from skystream.filters.check import MAX_DEPTH, MAX_LIMIT, MAX_NESTING, MAX_PREFIX_RUN, FilterRejected
from skystream.filters.compiler import FilterQuery, _compile_text, compile_filter

C = "objects.ra"
# Each builds a condition nested n levels deep (a level: a parenthesis, a call's included, or a CASE).
NESTED: dict[str, Callable[[int], str]] = {
    "parentheses": lambda n: "(" * n + f"{C} >= 0" + ")" * n,
    "calls": lambda n: "ABS(" * n + C + ")" * n + " >= 0",
    "second_argument": lambda n: "IFNULL(NULL, " * n + C + ")" * n + " >= 0",
    "case": lambda n: "CASE WHEN " * n + f"{C} >= 0" + " THEN 1 ELSE 0 END" * n + " = 1",
    "case_value": lambda n: f"CASE {C} WHEN -5 THEN 0 WHEN " * n + "-6" + " THEN 0 ELSE 1 END" * n + " = 1",
    "if": lambda n: "IF(" * n + f"{C} >= 0" + ", 1, 0)" * n + " = 1",
    "between": lambda n: f"({C} BETWEEN -1 AND " * n + "100" + ")" * n,
    "not_between": lambda n: f"({C} NOT BETWEEN -100 AND " * n + "-50" + ")" * n,
    "in_list": lambda n: f"({C} IN (-1, " * (n // 2) + "1" + "))" * (n // 2) + (" >= 0" if n % 2 == 0 else ""),
    "cast": lambda n: "CAST(" * n + C + " AS DOUBLE)" * n + " >= 0",
    "comparisons": lambda n: f"({C} = " * n + C + ")" * n,
    "mixed_operators": lambda n: f"({C} > 1 OR {C} < 1 AND {C} + 1 * " * n + C + ")" * n + " > -1000",
    "signs_inside": lambda n: f"(NOT {C} < -1 AND - {C} <= 0 AND " * n + f"NOT NOT {C} > - - -1" + ")" * n,
}


def _run(world: World, conditions: str) -> tuple[int, dict]:  # noqa: F811
    return world.call("POST", "/filters/run", {"selected": "objects.diaObjectId", "tables": "objects",
                                              "conditions": conditions, "limit": 1000})


@pytest.mark.parametrize("kind", list(NESTED))
def test_every_construct_nested_to_the_bound_runs_and_one_more_is_refused_with_where(world: World,  # noqa: F811
                                                                                     kind: str) -> None:
    build = NESTED[kind]
    if kind == "in_list":  # two parentheses a level: the bound is reached on an even count
        at, over = build(MAX_NESTING), build(MAX_NESTING + 2)
    else:
        at, over = build(MAX_NESTING), build(MAX_NESTING + 1)
    status, ran = _run(world, at)
    assert status == 200, ran
    assert ran["objects_scanned"] == 30
    status, refused = _run(world, over)
    assert status == 400 and refused["error"] == "invalid_filter"
    assert f"nested more than {MAX_NESTING} levels deep here" in refused["detail"]
    assert "of conditions" in refused["detail"] and refused["position"] is not None
    assert refused["position"] < len(over)


def test_the_refusal_points_at_the_level_over_the_bound(world: World) -> None:  # noqa: F811
    status, refused = _run(world, "(" * (MAX_NESTING + 1) + "objects.ra > 0" + ")" * (MAX_NESTING + 1))
    assert status == 400 and refused["position"] == MAX_NESTING
    assert f"col {MAX_NESTING + 1} of conditions" in refused["detail"]
    # A binary minus, IS NOT, NOT BETWEEN are not prefix operators: they are not counted in a run.
    inner = "objects.ra - -1 > 0 AND objects.decl IS NOT NULL AND objects.ra NOT BETWEEN 5 AND 6"
    assert _run(world, "(" * MAX_NESTING + inner + ")" * MAX_NESTING)[0] == 200
    # Long chains are bounded by the tree's depth (MAX_DEPTH), not by the nesting.
    chain = " AND ".join(f"objects.ra > {-i - 1}" for i in range(MAX_DEPTH - 30))  # the tree has a few more levels
    status, ran = _run(world, "(" * MAX_NESTING + chain + ")" * MAX_NESTING)
    assert status == 200 and ran["count"] == 30


def test_prefix_operators_in_a_row_are_bounded(world: World) -> None:  # noqa: F811
    at = "NOT " * MAX_PREFIX_RUN + "objects.ra < 0"
    status, ran = _run(world, "(" * MAX_NESTING + at + ")" * MAX_NESTING)
    assert status == 200 and ran["count"] == 0  # an even number of NOTs: ra < 0, which no object has
    status, ran = _run(world, "objects.ra >= " + "- " * MAX_PREFIX_RUN + "0")
    assert status == 200 and ran["count"] == 30
    status, refused = _run(world, "NOT " * (MAX_PREFIX_RUN + 1) + "objects.ra < 0")
    assert status == 400 and f"more than {MAX_PREFIX_RUN} NOT or sign operators are nested in a row" in refused["detail"]
    assert refused["position"] == 4 * MAX_PREFIX_RUN  # the NOT over the bound


def test_acceptance_does_not_depend_on_how_deep_the_caller_already_is() -> None:
    """What the API accepted must compile in the matcher too, whose stack may be deeper."""

    def accepted(conditions: str) -> bool:
        _compile_text.cache_clear()
        try:
            compile_filter(FilterQuery(selected="objects.diaObjectId", tables="objects", conditions=conditions))
        except FilterRejected:
            return False
        return True

    def from_deep_stack(frames: int, conditions: str) -> bool:
        return from_deep_stack(frames - 1, conditions) if frames else accepted(conditions)

    spare = 400  # frames left for the checker and the compiler
    for kind in ("parentheses", "calls", "between", "if", "mixed_operators", "signs_inside"):
        for n in range(1, 41):
            conditions = NESTED[kind](n)
            if accepted(conditions):
                used = len(inspect.stack(0))
                assert from_deep_stack(sys.getrecursionlimit() - used - spare, conditions), (kind, n)


def test_limit_is_bounded_and_its_bound_accepted() -> None:
    compile_filter(FilterQuery(selected="objects.diaObjectId", tables="objects",
                               conditions=f"objects.ra > 0 LIMIT {MAX_LIMIT}"))
    with pytest.raises(FilterRejected, match="LIMIT 1000000001 is too large"):
        compile_filter(FilterQuery(selected="objects.diaObjectId", tables="objects",
                                   conditions=f"objects.ra > 0 LIMIT {MAX_LIMIT + 1}"))
