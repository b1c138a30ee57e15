"""Comments in filters: ``-- ...`` and ``# ...`` to the end of a line and ``/* ... */`` are dropped at
parse time (the checker works on the tree, so a comment neither hides nor adds anything); MySQL's
executable comments ``/*! ... */`` are refused; errors after a comment still say where."""

from __future__ import annotations

from typing import Any

import pytest
from filter_corpus.rows import clock_for, make_batch

from skystream.domain.errors import FilterRejected
from skystream.filters.batch import BatchRows
from skystream.filters.compiler import CompiledFilter, FilterQuery, compile_filter
from skystream.filters.engine import SqliteEngine

pytestmark = pytest.mark.unit

SELECTED = "objects.diaObjectId, objects.g_psfFlux"
CONDITIONS = "objects.g_psfFlux > 10000 AND objects.nDiaSources > 20"
# each form, where Lasair's users put them: after a condition, on a line of its own, inside a line
FORMS = {
    "dash": ("-- saved by the cookbook\nobjects.g_psfFlux > 10000 -- bright\nAND objects.nDiaSources > 20 -- well sampled"),
    "hash": ("# saved by the cookbook\nobjects.g_psfFlux > 10000 # bright\nAND objects.nDiaSources > 20 # well sampled"),
    "block": ("/* saved by\n   the cookbook */ objects.g_psfFlux > 10000 /* bright */ AND /* well sampled */ "
              "objects.nDiaSources > 20 /* end */"),
}
HOSTILE_TEXT = {"dash": "-- ; DROP TABLE objects\n", "hash": "# UNION SELECT sleep(5)\n",
                "block": "/* OR 1=1; DROP TABLE objects */ "}


@pytest.fixture(scope="module")
def batch() -> BatchRows:
    return make_batch(400, seed=3)


def rows(batch: BatchRows, compiled: CompiledFilter) -> list[dict[str, Any]]:
    outcome = SqliteEngine(clock=clock_for).run(batch, [("f", compiled)])["f"]
    assert outcome.ok, outcome.error
    return outcome.rows


def plain() -> CompiledFilter:
    return compile_filter(FilterQuery(selected=SELECTED, tables="objects", conditions=CONDITIONS))


@pytest.mark.parametrize("form", FORMS)
def test_each_form_in_the_conditions_is_dropped(form: str, batch: BatchRows) -> None:
    commented = compile_filter(FilterQuery(selected=SELECTED, tables="objects", conditions=FORMS[form]))
    assert commented.sqlite_sql == plain().sqlite_sql  # nothing of a comment reaches the engine
    found = rows(batch, commented)
    assert found == rows(batch, plain()) and 0 < len(found) < len(batch.objects)


@pytest.mark.parametrize(("form", "comment"), [("dash", "-- the id\n"), ("hash", "# the id\n"), ("block", "/* the id */")])
def test_each_form_in_the_selected_part_and_in_a_full_select(form: str, comment: str) -> None:
    three = compile_filter(FilterQuery(selected=f"objects.diaObjectId {comment}, objects.g_psfFlux {comment}",
                                       tables="objects", conditions=CONDITIONS))
    assert three.sqlite_sql == plain().sqlite_sql and three.output_columns == ("diaObjectId", "g_psfFlux")
    whole = compile_filter(FilterQuery(sql=f"{comment}SELECT {comment} objects.diaObjectId, objects.g_psfFlux "
                                           f"FROM objects {comment} WHERE {FORMS[form]}"))
    assert whole.sqlite_sql == compile_filter(FilterQuery(
        sql=f"SELECT {SELECTED} FROM objects WHERE {CONDITIONS}")).sqlite_sql


@pytest.mark.parametrize("form", HOSTILE_TEXT)
def test_sql_in_a_comment_is_never_run_nor_kept(form: str, batch: BatchRows) -> None:
    conditions = f"objects.g_psfFlux > 10000 {HOSTILE_TEXT[form]}AND objects.nDiaSources > 20"
    compiled = compile_filter(FilterQuery(selected=SELECTED, tables="objects", conditions=conditions))
    for text in (compiled.sqlite_sql, compiled.mysql_sql):
        assert not any(word in text.upper() for word in ("DROP", "UNION", "SLEEP", "1=1", "1 = 1", "/*", "--"))
    assert rows(batch, compiled) == rows(batch, plain())


def test_a_comment_hides_nothing_from_the_checker() -> None:
    with pytest.raises(FilterRejected, match=r"function SLEEP is not allowed at line 2, col 5 of conditions"):
        compile_filter(FilterQuery(selected=SELECTED, tables="objects",
                                   conditions="/* harmless */ objects.ra > 1\nAND SLEEP(1) = 0 -- harmless too"))


@pytest.mark.parametrize("conditions", [
    "-- first line\nobjects.ra > 1 AND # note\n objects.decmean < 0",
    "/* first\nline */ objects.ra > 1 AND /* note */\n objects.decmean < 0",
])
def test_errors_after_comments_say_where(conditions: str) -> None:
    with pytest.raises(FilterRejected) as info:
        compile_filter(FilterQuery(selected=SELECTED, tables="objects", conditions=conditions))
    assert str(info.value) == ("unknown column objects.decmean at line 3, col 2 of conditions "
                               "(did you mean objects.decl?)")
    assert info.value.position == conditions.index("objects.decmean")


@pytest.mark.parametrize(("where", "text"), [
    ("conditions", "objects.ra > 1 /*! AND 1=0 */"),
    ("conditions", "objects.ra > 1 -- fine\n/*!50000 UNION SELECT 1 */"),
    ("selected", "objects.diaObjectId /*!, @@version */"),
])
def test_mysql_executable_comments_stay_refused_with_where(where: str, text: str) -> None:
    parts = {"selected": SELECTED, "tables": "objects", "conditions": CONDITIONS, where: text}
    with pytest.raises(FilterRejected) as info:
        compile_filter(FilterQuery(**parts))
    assert "MySQL executable comments are not allowed" in str(info.value)
    assert f"of {where}" in str(info.value) and info.value.position == text.index("/*!")


def test_comment_markers_inside_strings_and_line_comments_are_text(batch: BatchRows) -> None:
    quoted = compile_filter(FilterQuery(selected=SELECTED, tables="objects",
                                        conditions="objects.latestPairColourBands <> '/*! -- # */' -- see /*! */"))
    assert "'/*! -- # */'" in quoted.sqlite_sql
    assert rows(batch, quoted)


def test_an_unclosed_comment_is_refused_where_it_opens() -> None:
    with pytest.raises(FilterRejected) as info:
        compile_filter(FilterQuery(selected=SELECTED, tables="objects", conditions="objects.ra > 1 /* forgot"))
    assert str(info.value) == "a /* comment is not closed at line 1, col 16 of conditions (end it with */)"


def test_a_double_dash_without_a_space_is_two_minus_signs_as_in_mysql(batch: BatchRows) -> None:
    minus = compile_filter(FilterQuery(selected=SELECTED, tables="objects", conditions="objects.nDiaSources--20 > 40"))
    plus = compile_filter(FilterQuery(selected=SELECTED, tables="objects", conditions="objects.nDiaSources + 20 > 40"))
    assert rows(batch, minus) == rows(batch, plus) != []


def test_order_by_or_nothing_after_a_comment_line(batch: BatchRows) -> None:
    ordered = compile_filter(FilterQuery(selected=SELECTED, tables="objects",
                                         conditions="-- brightest first\nORDER BY objects.g_psfFlux DESC LIMIT 3"))
    assert len(rows(batch, ordered)) == 3
    only = compile_filter(FilterQuery(selected=SELECTED, tables="objects", conditions="# to do: conditions"))
    assert len(rows(batch, only)) == len(batch.objects)


def test_an_optimizer_hint_is_a_comment_too() -> None:
    hinted = compile_filter(FilterQuery(sql=f"SELECT /*+ MAX_EXECUTION_TIME(1) */ {SELECTED} FROM objects "
                                            f"WHERE {CONDITIONS}"))
    assert hinted.sqlite_sql == compile_filter(FilterQuery(sql=f"SELECT {SELECTED} FROM objects WHERE {CONDITIONS}")
                                               ).sqlite_sql
