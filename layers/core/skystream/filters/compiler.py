"""Compile a filter once per version: check, transpile to SQLite, prepare on the empty schema.

What comes out (``CompiledFilter``) runs on any batch: the checker allows only what the
SQLite translation supports, every function is our own never-raising implementation, and
the statement has been executed once on the empty tables before anyone relies on it.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from skystream.domain.errors import FilterRejected
from skystream.filters.check import CAST_TYPES, CheckedQuery, SourceMap, check
from skystream.filters.database import new_database, seal
from skystream.filters.functions import FUNCTIONS, NATIVE, udf_name
from skystream.filters.parts import assemble, watchlist_ids, watchmap_ids
from skystream.filters.schema import JOIN_KEY

ROW_CAP = 1000


class FilterQuery(BaseModel):
    """A filter as the user writes it: Lasair's three parts, or one full SELECT in ``sql``."""

    model_config = ConfigDict(extra="forbid")

    selected: str | None = None
    tables: str | None = None
    conditions: str | None = None
    sql: str | None = None


@dataclass(frozen=True)
class CompiledFilter:
    sqlite_sql: str
    mysql_sql: str  # canonical: checked, join conditions and annotator restrictions made explicit
    output_columns: tuple[str, ...]
    tables: frozenset[str]  # schema tables used, e.g. {"objects", "sherlock_classifications"}
    annotators: frozenset[str]  # annotator names joined via annotator:NAME / annotations AS NAME
    limit: int | None = None
    watchlists: frozenset[int] = frozenset()  # the N of each watchlist:N: watchlist_hits holds their hits
    watchmaps: frozenset[int] = frozenset()  # the N of each watchmap:N / area:N: area_hits holds their hits
    # (table, column) pairs the SQL reads; None: unknown, load every column
    columns: frozenset[tuple[str, str]] | None = None


def compile_filter(query: FilterQuery, *, row_cap: int = ROW_CAP) -> CompiledFilter:
    """Check and compile; raise FilterRejected (what and where) if the filter is not allowed.

    Memoised on the filter's text: the matcher re-reads every active filter whenever any
    one of them changes, and an unchanged one must not be compiled again (a few ms each,
    seconds for a thousand filters). ``CompiledFilter`` is immutable, so sharing is safe."""
    return _compile_text(query.selected, query.tables, query.conditions, query.sql, row_cap)


class FilterParts(Protocol):
    """Anything holding Lasair's three parts, as a stored filter does."""

    selected: str
    tables: str
    conditions: str


def compiled_filter(f: FilterParts) -> CompiledFilter:
    """A stored filter's checked, transpiled query (memoised like :func:`compile_filter`);
    raises ``FilterRejected`` if a newer checker refuses what was once saved."""
    return _compile_text(f.selected, f.tables, f.conditions or None, None, ROW_CAP)


# Bounded: a compiled filter is ~1 KB typically but up to ~60 KB for a 20,000-character one,
# and the API process compiles whatever users send. More active filters than this only
# means some are recompiled, as they all were without the memo.
@functools.lru_cache(maxsize=2048)
def _compile_text(selected: str | None, tables: str | None, conditions: str | None, whole: str | None,
                  row_cap: int) -> CompiledFilter:
    has_parts = any((selected, tables, conditions))
    if whole and whole.strip():
        if has_parts:
            raise FilterRejected("give either sql (one full SELECT) or selected/tables/conditions, not both", None)
        checked = check(whole, SourceMap.whole(whole))
        for table, word in (("watchlist_hits", "watchlist"), ("area_hits", "watchmap")):
            if any(r.table == table for r in checked.refs.values()):
                raise FilterRejected(f"{table} is joined by naming the {word}: write the filter as selected, "
                                     f"tables and conditions, with {word}:N in tables", None)
        watchlists: frozenset[int] = frozenset()
        watchmaps: frozenset[int] = frozenset()
        from_parts = False
    else:
        sql, source = assemble(selected, tables, conditions)
        checked = check(sql, source)
        watchlists = watchlist_ids(tables)
        watchmaps = watchmap_ids(tables)
        from_parts = True
    return _compile(checked, from_parts=from_parts, row_cap=row_cap, watchlists=watchlists, watchmaps=watchmaps)


def _compile(checked: CheckedQuery, *, from_parts: bool, row_cap: int,
             watchlists: frozenset[int] = frozenset(), watchmaps: frozenset[int] = frozenset()) -> CompiledFilter:
    tree = checked.tree.copy()
    _add_join_conditions(tree, checked, from_parts=from_parts, watchlists=watchlists, watchmaps=watchmaps)
    limit = _cap_limit(tree, row_cap)
    mysql_sql = tree.sql(dialect="mysql")
    _expand_stars(tree, checked)
    columns = _columns_read(tree, checked)
    _alias_outputs(tree, checked.output_columns)
    _to_sqlite_functions(tree)
    for ident in tree.find_all(exp.Identifier):
        ident.set("quoted", True)
    try:
        sqlite_sql = tree.sql(dialect="sqlite", unsupported_level=ErrorLevel.RAISE, copy=False)
    except Exception as exc:
        raise FilterRejected(f"the filter cannot be translated for the engine: {exc}", None) from None
    _prepare(sqlite_sql)
    return CompiledFilter(
        sqlite_sql=sqlite_sql,
        mysql_sql=mysql_sql,
        output_columns=checked.output_columns,
        tables=frozenset(r.table for r in checked.refs.values()),
        annotators=checked.annotators,
        limit=limit,
        columns=columns,
        watchlists=watchlists,
        watchmaps=watchmaps,
    )


def _add_join_conditions(tree: exp.Select, checked: CheckedQuery, *, from_parts: bool,
                         watchlists: frozenset[int] = frozenset(), watchmaps: frozenset[int] = frozenset()) -> None:
    """Lasair's joins for the three-part form (every table's diaObjectId = objects.diaObjectId),
    for both forms the restriction of ``annotations AS NAME`` to annotator NAME (in the
    ON clause of a LEFT JOIN, so that the join stays a left join), and of ``watchlist_hits`` to the
    watchlists of ``watchlist:N`` and of ``area_hits`` to the watchmaps of ``watchmap:N`` (one batch database
    holds the hits of every filter's watchlists and watchmaps)."""
    conditions: list[exp.Expression] = []
    refs = list(checked.refs.values())
    primary = next((r for r in refs if r.table == "objects"), refs[0])
    left_joins = {
        join.this.alias_or_name.lower(): join
        for join in tree.args.get("joins") or []
        if (join.args.get("side") or "").upper() == "LEFT" and isinstance(join.this, exp.Table)
    }
    for ref in refs:
        if from_parts and ref is not primary:
            conditions.append(exp.column(JOIN_KEY, ref.alias).eq(exp.column(JOIN_KEY, primary.alias)))
        if ref.table == "watchlist_hits":
            conditions.append(exp.column("wl_id", ref.alias).isin(*(exp.Literal.number(n) for n in sorted(watchlists))))
        if ref.table == "area_hits":
            conditions.append(exp.column("ar_id", ref.alias).isin(*(exp.Literal.number(n) for n in sorted(watchmaps))))
        if ref.table == "annotations":
            restriction = exp.column("annotator", ref.alias).eq(exp.Literal.string(ref.alias))
            join = left_joins.get(ref.alias.lower())
            if join is not None:
                on = join.args.get("on")
                join.set("on", exp.and_(exp.Paren(this=on), restriction) if on is not None else restriction)
            else:
                conditions.append(restriction)
    if not conditions:
        return
    where = tree.args.get("where")
    if where is not None:
        conditions.append(exp.Paren(this=where.this))
    tree.set("where", exp.Where(this=exp.and_(*conditions)))


def _cap_limit(tree: exp.Select, row_cap: int) -> int | None:
    limit = tree.args.get("limit")
    if limit is None:
        return None
    value = min(int(limit.expression.this), row_cap)
    limit.set("expression", exp.Literal.number(value))
    return value


def _expand_stars(tree: exp.Select, checked: CheckedQuery) -> None:
    expanded: list[exp.Expression] = []
    for e in tree.expressions:
        if isinstance(e, exp.Star):
            refs = list(checked.refs.values())
        elif isinstance(e, exp.Column) and isinstance(e.this, exp.Star):
            refs = [checked.refs[e.table.lower()]]
        else:
            expanded.append(e)
            continue
        expanded.extend(exp.column(c, r.alias) for r in refs for c in r.schema.columns)
    tree.set("expressions", expanded)


def _columns_read(tree: exp.Select, checked: CheckedQuery) -> frozenset[tuple[str, str]]:
    """Every (table, column) the statement reads; the checker has qualified each column."""
    read = {(ref.table, JOIN_KEY) for ref in checked.refs.values()}
    for column in tree.find_all(exp.Column):
        ref = checked.refs.get(column.table.lower()) if column.table else None
        if ref is not None:
            read.add((ref.table, column.name))
    return frozenset(read)


def _alias_outputs(tree: exp.Select, names: tuple[str, ...]) -> None:
    aliased = []
    for e, name in zip(tree.expressions, names, strict=True):
        inner = e.this if isinstance(e, exp.Alias) else e
        aliased.append(exp.alias_(inner, exp.to_identifier(name, quoted=True)))
    tree.set("expressions", aliased)


def _to_sqlite_functions(tree: exp.Select) -> None:
    """Every allowed function becomes a call of our registered implementation (``ss_*``),
    except the few SQLite does exactly as MySQL (COALESCE, IFNULL, NULLIF, IF -> CASE)."""
    for node in list(tree.find_all(exp.Anonymous, exp.Substring, exp.Trim, exp.Mod, exp.Cast)):
        if isinstance(node, exp.Anonymous):
            name = node.name.upper()
            if name in NATIVE and name != "MJDNOW":
                if name == "IF":
                    a, b, c = node.expressions
                    node.replace(exp.If(this=a, true=b, false=c))
                else:
                    node.set("this", name)
                continue
            assert name in FUNCTIONS
            node.set("this", udf_name(name))
        elif isinstance(node, exp.Substring):
            args = [node.this, node.args.get("start"), node.args.get("length")]
            node.replace(exp.Anonymous(this=udf_name("SUBSTRING"), expressions=[a for a in args if a is not None]))
        elif isinstance(node, exp.Trim):
            node.replace(exp.Anonymous(this=udf_name("TRIM"), expressions=[node.this]))
        elif isinstance(node, exp.Mod):
            node.replace(exp.Anonymous(this=udf_name("MOD"), expressions=[node.this, node.expression]))
        elif isinstance(node, exp.Cast):
            node.set("to", exp.DataType.build(CAST_TYPES[node.args["to"].this], dialect="sqlite"))


_PREPARE_LOCK = threading.Lock()
_PREPARE_DB: sqlite3.Connection | None = None


def _prepare(sqlite_sql: str) -> None:
    """Run the statement once on the empty schema: what passes the check always runs."""
    global _PREPARE_DB
    with _PREPARE_LOCK:
        if _PREPARE_DB is None:
            _PREPARE_DB = new_database()
            seal(_PREPARE_DB)
        try:
            _PREPARE_DB.execute(sqlite_sql).fetchall()
        except (sqlite3.Error, OverflowError, MemoryError, RecursionError) as exc:
            raise FilterRejected(f"the filter cannot run: {exc}", None) from None
