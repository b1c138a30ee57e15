"""Property: thousands (3,000) of random and hostile strings and trees at the checker. Nothing crashes
except with a clear FilterRejected, and anything that passes the check runs on a batch.

Deterministic (derandomize) and bounded (max_examples) so it takes seconds, not minutes.
"""

from __future__ import annotations

import pytest
from filter_corpus.rows import clock_for, make_batch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skystream.filters.check import FilterRejected
from skystream.filters.compiler import FilterQuery, compile_filter
from skystream.filters.engine import SqliteEngine
from skystream.filters.functions import FUNCTIONS
from skystream.filters.schema import TABLES

pytestmark = pytest.mark.unit

BATCH = make_batch(15, seed=11)
# and rows no well-behaved producer would send: the engine must still never fail on them
_HOSTILE_VALUES = [1e308, -1e308, 2**62, -(2**63), 0.0, -0.0, "abc", "1e5x", "", "\x00", float("nan"), True]
for _i, _v in enumerate(_HOSTILE_VALUES):
    _oid = 9_000_000 + _i
    BATCH.objects.append({c: _v for c in TABLES["objects"].columns} | {"diaObjectId": _oid})
    BATCH.sherlock_classifications.append({c: _v for c in TABLES["sherlock_classifications"].columns}
                                          | {"diaObjectId": _oid})
    BATCH.annotations.append({"annotator": "fastfinder", "diaObjectId": _oid, "classification": _v,
                              "classdict": "{not json" if _i % 2 else {"prob": _v, "a": [_v]}})
ENGINE = SqliteEngine(time_limit_s=2.0, clock=clock_for)
PROFILE = {"deadline": None, "derandomize": True,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]}


def passes_and_runs(query: FilterQuery) -> bool:
    """The property itself: refused clearly, or compiled and run without error."""
    try:
        compiled = compile_filter(query)
    except FilterRejected as exc:
        assert str(exc), "a refusal must say why"
        return False
    outcome = ENGINE.run(BATCH, [("f", compiled)])["f"]
    assert outcome.ok, f"passed the check but failed to run: {outcome.error}\n{compiled.sqlite_sql}"
    return True


HOSTILE = [
    "SELECT", "FROM", "WHERE", "objects", "sherlock_classifications", "crossmatch_tns", "annotations",
    "information_schema.tables", "sqlite_master", "UNION", "UNION ALL", "SELECT 1", "(SELECT diaObjectId FROM objects)",
    ";", "; DROP TABLE objects", "--", "#", "/*", "*/", "/*!", "'", '"', "`", "\\", "@x", "@@version", ":=",
    "INTO OUTFILE '/tmp/x'", "SLEEP(1)", "BENCHMARK(9e9, 1)", "load_extension('x')", "ATTACH DATABASE 'x' AS y",
    "PRAGMA", "LIMIT 99999999999999999999", "LIMIT -1", "OFFSET 1", "ORDER BY", "GROUP BY", "HAVING", "(", ")",
    ",", "*", "=", "<=>", "AND", "OR", "NOT", "IN", "LIKE", "REGEXP", "ESCAPE", "NULL", "TRUE", "0x41", "1e999",
    "9223372036854775808", "-9223372036854775808", "ABS(-9223372036854775808)", "CAST(ra AS DATE)", "x'00'",
    "objects.ra", "ra", "decl", "g_psfFlux", "flux2mag(g_psfFlux)", "mjdnow()", "JSON_EXTRACT(fastfinder.classdict, '$')",
    "annotator:fastfinder", "CASE WHEN", "THEN", "ELSE", "END", "\x00", "é", "\n", "REPLACE('a','a','aa')",
]

COLUMNS = ([f"objects.{c}" for c in list(TABLES["objects"].columns)[:40]] + ["ra", "decl", "glat", "g_psfFlux",
           "sherlock_classifications.z", "sherlock_classifications.classification", "crossmatch_tns.type",
           "fastfinder.classification", "fastfinder.classdict", "objects.nope", "nope", "users.password"])
FUNCS = [*sorted(FUNCTIONS), "SLEEP", "COUNT", "SUM", "NOW", "load_extension", "RANDOM", "CHAR", "REPEAT"]

literals = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=8).map(lambda s: "'" + s.replace("'", "''").replace("\\", "\\\\") + "'"),
    st.sampled_from(["NULL", "TRUE", "FALSE", "'$.prob'", "'$.a[0]'", "'{\"a\": [1]}'", "'2025%'"]),
)
leaves = st.one_of(literals, st.sampled_from(COLUMNS))


def _branches(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binop = st.sampled_from(["+", "-", "*", "/", "%", "DIV", "MOD", "=", "<", ">", "<=", ">=", "!=", "<>", "<=>",
                             "AND", "OR", "XOR", "LIKE", "&&", "||", "&", "|", "^"])
    return st.one_of(
        st.tuples(inner, binop, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["NOT ", "-", "!", "~"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(FUNCS), st.lists(inner, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, inner, inner).map(lambda t: f"IF({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} BETWEEN {t[1]} AND {t[2]})"),
        st.tuples(inner, st.lists(inner, min_size=1, max_size=3)).map(lambda t: f"({t[0]} IN ({', '.join(t[1])}))"),
        inner.map(lambda e: f"({e} IS NOT NULL)"),
        st.tuples(inner, st.sampled_from(["SIGNED", "UNSIGNED", "DECIMAL", "DOUBLE", "CHAR", "DATE", "BINARY"]))
        .map(lambda t: f"CAST({t[0]} AS {t[1]})"),
        inner.map(lambda e: f"(SELECT {e} FROM objects)"),
    )


expressions = st.recursive(leaves, _branches, max_leaves=12)
tables = st.lists(st.sampled_from(["objects", "sherlock_classifications", "crossmatch_tns", "annotator:fastfinder",
                                   "annotator:lsst_ml", "annotations", "bogus"]), max_size=4, unique=True).map(", ".join)
selected = st.lists(st.tuples(expressions, st.sampled_from(["", " AS a", " AS b", " c"])), min_size=1, max_size=3).map(
    lambda items: ", ".join(e + alias for e, alias in items))
tails = st.one_of(st.just(""), expressions.map(lambda e: f" ORDER BY {e}"),
                  st.integers(min_value=0, max_value=10**6).map(lambda n: f" LIMIT {n}"))


@settings(max_examples=1200, **PROFILE)
@given(selected, tables, expressions, tails)
def test_generated_three_part_filters_are_refused_or_run(sel: str, tab: str, cond: str, tail: str) -> None:
    passes_and_runs(FilterQuery(selected=sel, tables=tab, conditions=cond + tail))


@settings(max_examples=400, **PROFILE)
@given(selected, st.lists(st.sampled_from(["objects", "sherlock_classifications", "crossmatch_tns",
                                           "annotations AS fastfinder", "objects AS o2"]), min_size=1, max_size=3,
                          unique=True), expressions)
def test_generated_full_selects_are_refused_or_run(sel: str, froms: list[str], cond: str) -> None:
    passes_and_runs(FilterQuery(sql=f"SELECT {sel} FROM {', '.join(froms)} WHERE {cond}"))


@settings(max_examples=700, **PROFILE)
@given(st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=12).map(" ".join), st.booleans())
def test_hostile_fragments_are_refused_or_run(text: str, as_sql: bool) -> None:
    query = FilterQuery(sql=text) if as_sql else FilterQuery(selected="objects.diaObjectId", tables="objects", conditions=text)
    passes_and_runs(query)


@settings(max_examples=700, **PROFILE)
@given(st.text(max_size=200), st.sampled_from(["sql", "selected", "conditions", "tables"]))
def test_random_text_is_refused_or_runs(text: str, where: str) -> None:
    parts = {"selected": "objects.diaObjectId", "tables": "objects", "conditions": ""}
    query = FilterQuery(sql=text) if where == "sql" else FilterQuery(**{**parts, where: text})
    passes_and_runs(query)


def test_some_generated_filters_do_pass() -> None:
    """Guard against a property that holds only because everything is refused."""
    ok = [passes_and_runs(FilterQuery(selected=s, tables="objects", conditions=c)) for s, c in [
        ("ra, decl", "(g_psfFlux > 1) AND (flux2mag(g_psfFlux) < 20)"),
        ("IF(ra > 1, 'a', 'b') AS a", "ra BETWEEN 1 AND 2"),
        ("CAST(ra AS SIGNED) c", "(NOT (ra IS NOT NULL)) OR (decl IN (1, 2))"),
    ]]
    assert all(ok)
