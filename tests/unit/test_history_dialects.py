"""Differential test: a filter over the history (history_sql + DuckDB over Parquet) gives the rows the
per-batch SQLite engine gives over the same objects rows, or is refused with HistoryUnsupported; never a
different answer.

Rows: the corpus's random objects plus rows no producer should send (NULL everywhere, NaN and infinities,
text in varied case and text that reads as a number, integers at the 64-bit and 32-bit edges), written to
Parquet twice over in part (a redelivered batch: the history deduplicates). Athena's SQL cannot run here:
every statement that translates for Trino must parse in sqlglot's Trino dialect, and, transpiled by sqlglot to
DuckDB, give the matcher's rows too (a check of its logic; Athena's own functions only Athena runs).

Bounded: hypothesis derandomized with a fixed number of examples (seconds).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlglot
from fakes import MemoryHistory
from filter_corpus.corpus import CORPUS
from filter_corpus.rows import NOW_MJD, clock_for, make_batch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skystream.domain.errors import FilterRejected, HistoryUnsupported
from skystream.features.columns import OBJECT_COLUMNS
from skystream.filters.batch import BatchRows
from skystream.filters.compiler import CompiledFilter, FilterQuery, compile_filter
from skystream.filters.engine import SqliteEngine
from skystream.filters.functions import FUNCTIONS, make_mjdnow
from skystream.history import queries
from skystream.history.dialects import history_sql
from skystream.storage.history_duckdb import DuckDbHistory

pytestmark = pytest.mark.unit

NIGHT = 61000
NOW = make_mjdnow(lambda: clock_for(NOW_MJD))()  # the very value the SQLite engine's mjdnow() gives
SQLITE = SqliteEngine(time_limit_s=5.0, clock=lambda: clock_for(NOW_MJD))
TEXTS = ["GR", "Gr", "gr", "g_r", "g%", "5", " 5", "5.0", "1e5x", "abc", "É", "é", "", "x", "ZZ"]
_TYPES = {c.name: c.sql_type for c in OBJECT_COLUMNS}


def _hostile_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"diaObjectId": 1}]  # NULL everywhere else
    edge = {"BIGINT": [2**63 - 1, -(2**63), 2**62, 0], "INTEGER": [2**31 - 1, -(2**31), 0, 7],
            "DOUBLE": [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5.0, 0.5, 1e-300],
            "TEXT": TEXTS}
    for i in range(max(len(v) for v in edge.values())):
        row = {name: edge[t][i % len(edge[t])] for name, t in _TYPES.items()}
        row["diaObjectId"] = 2 + i if i % 2 else 2**62 + i  # ids small and past 2^53
        rows.append(row)
    for i, text in enumerate(TEXTS):  # every text against ordinary numbers
        rows.append({"diaObjectId": 100 + i, "latestPairColourBands": text, "penultimatePairColourBands": TEXTS[-1 - i],
                     "ra": float(i), "nDiaSources": i, "g_psfFlux": 1000.0 * i, "latestPairColourMag": i / 3})
    return rows


def _objects() -> list[dict[str, Any]]:
    objects = [*make_batch(160, seed=5).objects, *_hostile_rows()]
    return [dict(o, diaSourceId=10_000 + i, alertMjdTai=NOW_MJD - 1 + i * 1e-4, skyPixel=i) for i, o in enumerate(objects)]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDbHistory, BatchRows]]:
    rows = _objects()
    files = MemoryHistory(tmp_path_factory.mktemp("history"))
    files.append("objects_history", NIGHT, rows, name="batch-1")
    files.append("objects_history", NIGHT, rows[:40], name="batch-1-redelivered")
    yield DuckDbHistory(files, threads=1), BatchRows(objects=rows)


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int | float):
        return ("n", f"{float(value) + 0.0:.10g}")  # equal to 1e-9 relative; -0.0 is 0.0
    return value


def _multiset(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple((k, _norm(v)) for k, v in row.items()) for row in rows)


Outcome = str  # "same" | "refused" | "skipped"


def differential(compiled: CompiledFilter, engine: DuckDbHistory, batch: BatchRows) -> Outcome:
    """Both engines' rows, compared; asserts on any difference."""
    try:
        h = history_sql(compiled, "duckdb", now_mjd=NOW)
    except HistoryUnsupported as exc:
        assert str(exc)
        return "refused"
    want = SQLITE.run(batch, [("f", compiled)])["f"]
    if not want.ok:
        return "skipped"  # the matcher itself fails this one on these rows (a value over its size limit)
    try:
        got = engine.query(queries.night_sample(h, "duckdb", NIGHT, 10**6), time_limit_s=20)
    except HistoryUnsupported as exc:  # an integer left 64 bits where SQLite goes on in floating point
        assert "64-bit" in str(exc)
        return "refused"
    if compiled.limit is None:
        assert _multiset(got) == _multiset(want.rows), f"\nSQLite: {compiled.sqlite_sql}\nDuckDB: {h.rows_sql}"
    else:  # which of equal rows a LIMIT keeps is either engine's choice: same count, all among the full answer
        unlimited = dataclasses.replace(compiled, sqlite_sql=re.sub(r" LIMIT \d+$", "", compiled.sqlite_sql), limit=None)
        full = SQLITE.run(batch, [("f", unlimited)])["f"].rows
        assert len(got) == len(want.rows), f"\nSQLite: {compiled.sqlite_sql}\nDuckDB: {h.rows_sql}"
        assert not _multiset(got) - _multiset(full), f"\nSQLite: {compiled.sqlite_sql}\nDuckDB: {h.rows_sql}"
    return "same"


# Athena's names DuckDB spells otherwise (sqlglot's Trino -> DuckDB transpilation keeps them)
_TRINO_TO_DUCKDB = (("IS_FINITE(", "isfinite("), ("IS_NAN(", "isnan("), ("TO_UTF8(", "encode("), ("TRUNCATE(", "trunc("))


def athena_logic(compiled: CompiledFilter, engine: DuckDbHistory, batch: BatchRows) -> Outcome:
    """The Athena statement, transpiled by sqlglot to DuckDB and run on the same rows, gives the matcher's rows.
    This checks the translation's logic (CASE guards, NULLs, affinity, NOCASE, paging) with DuckDB's functions
    standing in for Athena's: it cannot check Athena's own functions, which only Athena runs."""
    try:
        h = history_sql(compiled, "trino", now_mjd=NOW)
    except HistoryUnsupported:
        return "refused"
    want = SQLITE.run(batch, [("f", compiled)])["f"]
    if not want.ok:
        return "skipped"
    sql = sqlglot.transpile(queries.night_sample(h, "trino", NIGHT, 10**6), read="trino", write="duckdb")[0]
    for trino, duck in _TRINO_TO_DUCKDB:
        sql = re.sub(re.escape(trino), duck, sql, flags=re.IGNORECASE)
    try:
        got = engine.query(sql, time_limit_s=20)
    except HistoryUnsupported:
        return "refused"
    if compiled.limit is None:
        assert _multiset(got) == _multiset(want.rows), f"\nSQLite: {compiled.sqlite_sql}\nAthena: {h.rows_sql}"
    else:
        assert len(got) == len(want.rows), f"\nSQLite: {compiled.sqlite_sql}\nAthena: {h.rows_sql}"
    return "same"


def trino_parses(compiled: CompiledFilter) -> bool:
    """The Trino translation, if there is one, parses in Trino's dialect (Athena cannot run here)."""
    try:
        h = history_sql(compiled, "trino", now_mjd=NOW)
    except HistoryUnsupported as exc:
        assert "Athena" in str(exc) or str(exc)
        return False
    for sql in (h.rows_sql, h.keys_sql, queries.latest_rows(h, "trino", limit=10, offset=20),
                queries.night_counts(h, "trino", NIGHT), queries.night_sample(h, "trino", NIGHT, 5)):
        sqlglot.parse_one(sql, read="trino")
    return True


def test_corpus_over_the_history_equals_the_matcher(history: tuple[DuckDbHistory, BatchRows]) -> None:
    engine, batch = history
    outcomes: dict[str, Outcome] = {}
    for f in CORPUS:
        compiled = compile_filter(FilterQuery(**f.query))
        outcome = differential(compiled, engine, batch)
        if compiled.tables != {"objects"}:
            assert outcome == "refused", f"{f.name} reads {sorted(compiled.tables)}, which the history does not keep"
            continue
        outcomes[f.name] = outcome
        if trino_parses(compiled):
            assert athena_logic(compiled, engine, batch) == "same", f.name
    refused = sorted(name for name, o in outcomes.items() if o == "refused")
    print(f"\ncorpus over objects: {len(outcomes)} filters, refused {len(refused)} ({len(refused) / len(outcomes):.0%}): "
          f"{refused}; filters naming other tables: {len(CORPUS) - len(outcomes)}, all refused")
    assert "skipped" not in outcomes.values()
    assert len(refused) <= len(outcomes) // 10, refused


def test_corpus_translates_for_athena_and_parses_as_trino() -> None:
    translated = [f.name for f in CORPUS if compile_filter(FilterQuery(**f.query)).tables == {"objects"}
                  and trino_parses(compile_filter(FilterQuery(**f.query)))]
    objects_only = [f.name for f in CORPUS if compile_filter(FilterQuery(**f.query)).tables == {"objects"}]
    print(f"\nAthena: {len(translated)} of {len(objects_only)} objects-only corpus filters translate")
    assert len(translated) >= len(objects_only) * 0.8


# Cases the translation handles (not refuses): SQLite's own rules, each against the hostile rows.
HANDLED = [
    ("diaObjectId, latestPairColourBands", "latestPairColourBands = 'gr'"),  # NOCASE: GR, Gr, gr
    ("diaObjectId", "latestPairColourBands < 'G'"),  # NOCASE ordering
    ("diaObjectId", "latestPairColourBands LIKE 'G%'"),  # ASCII-insensitive LIKE, 'g%' literal row
    ("diaObjectId", "latestPairColourBands LIKE 'é'"),  # non-ASCII: exact, É does not match
    ("diaObjectId", "UPPER(latestPairColourBands) = 'GR'"),  # a function's result: BINARY
    ("diaObjectId", "nDiaSources = '5'"),  # numeric affinity to the text literal
    ("diaObjectId", "nDiaSources < 'abc'"),  # a number sorts before any text
    ("diaObjectId", "latestPairColourBands = 5"),  # text affinity to the number: '5' only
    ("diaObjectId", "latestPairColourBands > 4.5"),
    ("diaObjectId", "ABS(nDiaSources) = '5'"),  # no affinity: a number never equals a text
    ("diaObjectId", "nDiaSources IN ('5', 7)"),
    ("diaObjectId, htm16", "htm16 > 9000000000000000000"),  # 64-bit edge integers
    ("diaObjectId", "diaObjectId > 4611686018427387904 AND diaObjectId < 4611686018427387910"),
    ("diaObjectId, ra / 0 AS x", "ra IS NOT NULL"),  # division by zero: NULL
    ("diaObjectId, g_psfFlux * 1e300 - g_psfFlux * 1e300 AS x", "TRUE"),  # inf - inf: NULL
    ("diaObjectId, CAST(ra AS SIGNED) AS x", "ra IS NOT NULL"),  # truncation and saturation
    ("diaObjectId, nDiaSources > 3 AS b", "nDiaSources IS NOT NULL"),  # a truth as 0/1
    ("diaObjectId", "ra"),  # a number as a condition
    ("diaObjectId", "latestPairColourBands OR NOT penultimatePairColourBands"),  # text as a condition: '5', '1e5x'
    ("DISTINCT nDiaSources, ra > 1 AS b", "nDiaSources < 10 ORDER BY b DESC, nDiaSources"),
    ("diaObjectId, flux2mag(g_psfFlux) AS m, SQRT(ra) AS s, CONCAT(latestPairColourBands, nDiaSources) AS c", "TRUE"),
    ("diaObjectId, IFNULL(jump1, 0) AS j", "IFNULL(jump1, 0) < 1"),
    ("diaObjectId, latestPairColourBands", "TRUE ORDER BY latestPairColourBands DESC, diaObjectId LIMIT 7"),
    ("DISTINCT nDiaSources", "nDiaSources < 10"),
    ("diaObjectId, mjdnow() - lastDiaSourceMjdTai AS age", "lastDiaSourceMjdTai > mjdnow() - 100"),
]


@pytest.mark.parametrize(("selected", "conditions"), HANDLED)
def test_sqlite_rules_are_reproduced(history: tuple[DuckDbHistory, BatchRows], selected: str, conditions: str) -> None:
    engine, batch = history
    compiled = compile_filter(FilterQuery(selected=selected, tables="objects", conditions=conditions))
    assert differential(compiled, engine, batch) == "same"
    assert athena_logic(compiled, engine, batch) in ("same", "refused")


REFUSED = [
    ("diaObjectId", "latestPairColourBands = nDiaSources", "compared with a number column"),
    ("diaObjectId", "latestPairColourBands LIKE nDiaSources", "LIKE on a number"),
    ("diaObjectId", "latestPairColourBands LIKE nDiaSources", "LIKE on a number"),
    ("diaObjectId, CAST(ra AS CHAR) AS t", "TRUE", "CAST of real"),
    ("DISTINCT latestPairColourBands", "TRUE", "DISTINCT over a text column"),
    ("diaObjectId, tns_name", "TRUE", "crossmatch_tns"),
    ("diaObjectId, ABS(latestPairColourBands) AS a", "TRUE", "row by row"),
    ("diaObjectId", "diaObjectId = 1.5", "2^53"),
]


@pytest.mark.parametrize(("selected", "conditions", "why"), REFUSED)
def test_what_cannot_be_exact_is_refused_saying_why(selected: str, conditions: str, why: str) -> None:
    compiled = compile_filter(FilterQuery(selected=selected, tables="objects", conditions=conditions))
    with pytest.raises(HistoryUnsupported, match=re.escape(why)):
        history_sql(compiled, "duckdb", now_mjd=NOW)


@pytest.mark.parametrize("selected", ["diaObjectId, htm16 * 4 AS big",  # SQLite: a real for (2^63 - 1) * 4
                                      "diaObjectId, CEIL(g_psfFlux) AS c",  # the matcher's CEIL(1e308): a real
                                      "diaObjectId, -htm16 AS n"])  # -(-2^63)
def test_integer_overflow_is_refused_when_it_happens(history: tuple[DuckDbHistory, BatchRows], selected: str) -> None:
    engine, batch = history
    compiled = compile_filter(FilterQuery(selected=selected, tables="objects", conditions="TRUE"))
    assert differential(compiled, engine, batch) == "refused"


def test_athena_refuses_what_it_cannot_answer_naming_it() -> None:
    text_truth = compile_filter(FilterQuery(selected="diaObjectId", tables="objects", conditions="latestPairColourBands"))
    with pytest.raises(HistoryUnsupported, match="text used as a condition"):
        history_sql(text_truth, "trino", now_mjd=NOW)
    compiled = compile_filter(FilterQuery(selected="diaObjectId, UPPER(latestPairColourBands) AS u", tables="objects",
                                          conditions="TRUE"))
    with pytest.raises(HistoryUnsupported, match=r"UPPER.*Athena"):
        history_sql(compiled, "trino", now_mjd=NOW)
    flux = compile_filter(FilterQuery(selected="diaObjectId", tables="objects", conditions="flux2mag(g_psfFlux) < 20"))
    sql = history_sql(flux, "trino", now_mjd=NOW).rows_sql
    assert "log10" in sql and "ss_" not in sql
    sqlglot.parse_one(sql, read="trino")


# -- generated filters ---------------------------------------------------------------------------------------

COLUMNS = ["diaObjectId", "htm16", "nDiaSources", "nSourcesGood", "ra", "decl", "g_psfFlux", "jump1", "latestR",
           "latestPairColourBands", "penultimatePairColourBands", "objects.timestamp", "lastDiaSourceMjdTai"]
literals = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.integers(min_value=-5, max_value=10).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.sampled_from([f"'{t}'" for t in TEXTS] + ["NULL", "TRUE", "FALSE", "0.5", "1e5"]),
)
leaves = st.one_of(literals, st.sampled_from(COLUMNS), st.sampled_from(COLUMNS))
FUNCS = sorted(name for name in FUNCTIONS if name != "JSON_EXTRACT")


def _branches(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binop = st.sampled_from(["+", "-", "*", "/", "%", "DIV", "=", "<", ">", "<=", ">=", "!=", "<=>", "AND", "OR", "LIKE"])
    return st.one_of(
        st.tuples(inner, binop, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["NOT ", "-"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(FUNCS), st.lists(inner, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, inner, inner).map(lambda t: f"IF({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} BETWEEN {t[1]} AND {t[2]})"),
        st.tuples(inner, st.lists(inner, min_size=1, max_size=3)).map(lambda t: f"({t[0]} IN ({', '.join(t[1])}))"),
        inner.map(lambda e: f"({e} IS NULL)"),
        st.tuples(inner, st.sampled_from(["SIGNED", "DOUBLE", "CHAR"])).map(lambda t: f"CAST({t[0]} AS {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"COALESCE({t[0]}, {t[1]})"),
    )


expressions = st.recursive(leaves, _branches, max_leaves=8)
selected = st.lists(expressions, min_size=1, max_size=3).map(
    lambda items: ", ".join(f"{e} AS c{i}" for i, e in enumerate(items)))
tails = st.one_of(st.just(""), st.just(""), expressions.map(lambda e: f" ORDER BY {e}"),
                  st.tuples(expressions, st.integers(0, 30)).map(lambda t: f" ORDER BY {t[0]} DESC LIMIT {t[1]}"))
GENERATED: Counter[str] = Counter()


@settings(max_examples=220, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(selected, expressions, tails, st.booleans())
def test_generated_filters_equal_the_matcher_or_are_refused(history: tuple[DuckDbHistory, BatchRows], sel: str,
                                                           cond: str, tail: str, distinct: bool) -> None:
    engine, batch = history
    try:
        compiled = compile_filter(FilterQuery(selected=("DISTINCT " if distinct else "") + sel, tables="objects",
                                              conditions=cond + tail))
    except FilterRejected:
        GENERATED["not a filter"] += 1
        return
    GENERATED[differential(compiled, engine, batch)] += 1
    if trino_parses(compiled):
        GENERATED[f"athena parses, logic on DuckDB {athena_logic(compiled, engine, batch)}"] += 1
    else:
        GENERATED["athena refused"] += 1


def test_generated_share_is_reported() -> None:
    """Printed for the record (run after the property): how many generated filters each engine answered."""
    print(f"\ngenerated filters: {dict(GENERATED)}")


def test_a_full_select_with_an_alias_and_lasairs_synonym(history: tuple[DuckDbHistory, BatchRows]) -> None:
    engine, batch = history
    compiled = compile_filter(FilterQuery(sql="SELECT o.diaObjectId, o.ra FROM objects_ext AS o WHERE o.ra > 100 "
                                              "AND o.latestPairColourBands = 'GR'"))
    assert differential(compiled, engine, batch) == "same"
    h = history_sql(compiled, "duckdb", now_mjd=NOW)  # keys_sql reads the filter's alias too
    [counts] = engine.query(queries.night_counts(h, "duckdb", NIGHT), time_limit_s=10)
    matched = SQLITE.run(batch, [("f", compiled)])["f"].rows
    assert counts == {"alerts": len(matched), "objects": len(matched), "total": len(batch.objects)} and matched


def test_objects_joined_with_itself_is_refused() -> None:
    compiled = compile_filter(FilterQuery(sql="SELECT a.diaObjectId FROM objects AS a, objects AS b "
                                              "WHERE a.diaObjectId = b.diaObjectId"))
    with pytest.raises(HistoryUnsupported, match="joins objects with itself"):
        history_sql(compiled, "duckdb", now_mjd=NOW)
