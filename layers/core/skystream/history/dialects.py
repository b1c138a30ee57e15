"""A compiled filter as DuckDB or Trino (Athena) SQL that answers exactly as the per-batch SQLite engine does.

The matcher's SQLite statement (``CompiledFilter.sqlite_sql``) is the truth. SQLite is dynamically typed
and the other engines are not, so the translator walks that statement with a static type for every
expression (integer, real, text, boolean or NULL: the history's Parquet columns are typed, so a column's
values all have its type or are NULL) and writes each SQLite rule out where the engines differ:

- text compared with a column's collation (NOCASE: ASCII letters only) -> both sides through
  ``translate(x, 'A..Z', 'a..z')``; LIKE (ASCII case-insensitive in SQLite) likewise;
- comparisons of text with numbers by SQLite's affinity rules, worked out here with SQLite itself when one
  side is a literal, refused otherwise;
- integers are BIGINT everywhere (literals cast), division by zero gives NULL, a real arithmetic result
  that is NaN gives NULL, a comparison's 0/1 is an integer when used as a value, NULLs sort first;
- CAST as SQLite casts (truncation and saturation of reals; text only from literals).

Functions: on DuckDB every ``ss_*`` function runs as the very Python implementation the matcher registers
(``filters.functions``), as a DuckDB UDF typed per call (``ss_<name>__<argument kinds>``, see
:func:`udf_spec`); a call whose result type SQLite would decide per row (ABS of text, JSON_EXTRACT) is
refused unless its arguments are literals (then it is computed here, by the same code). On Trino only
native functions with the same result, else refused naming the function and Athena.

Anything else the translation cannot answer exactly is refused with :class:`HistoryUnsupported`, never
answered differently; the differential test (tests/unit/test_history_dialects.py) holds the rest.
Integer overflow (SQLite switches to floating point, the engines raise) is refused when the query runs
(``storage/history_duckdb.py``).
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import sqlglot
from sqlglot import exp

from skystream.domain.errors import HistoryUnsupported
from skystream.filters.compiler import CompiledFilter
from skystream.filters.functions import FUNCTIONS, UDF_PREFIX
from skystream.filters.schema import DERIVED, TABLES

Dialect = Literal["duckdb", "trino"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EXACT_INT = 2**53  # integers up to this convert to double exactly: compare with reals safely
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_TRINO_SQL_CHARS = 200_000  # Athena's query string limit is 262,144 bytes


@dataclass(frozen=True)
class HistorySql:
    rows_sql: str  # the filter as written (select list, DISTINCT, ORDER BY, LIMIT as compiled) reading "objects"
    keys_sql: str  # SELECT diaObjectId, diaSourceId of every "objects" row the filter's conditions hold for
    output_columns: tuple[str, ...]


Kind = Literal["int", "real", "text", "bool", "null"]


@dataclass(frozen=True)
class _E:
    """A translated expression and what SQLite would know of it."""

    sql: str
    kind: Kind
    affinity: str | None = None  # "int" | "real" | "text": a column or CAST (SQLite affinity); None: an expression
    nocase: bool = False  # carries a column's NOCASE collation (column, CAST of one)
    mag: int = 0  # bound on |value| for kind "int"
    may_inf: bool = False  # a real that may be +-inf (arithmetic overflow): NaN may follow
    const: Any = None  # the value, when a literal
    is_const: bool = False


_NULL = _E("NULL", "null", is_const=True)


def history_sql(compiled: CompiledFilter, dialect: Dialect, *, now_mjd: float) -> HistorySql:
    """The filter over table ``objects`` in ``dialect``; raises HistoryUnsupported naming what and why."""
    others = sorted(t for t in compiled.tables if t != "objects")
    if others:
        raise HistoryUnsupported(
            f"the filter reads {', '.join(others)}: the history keeps the objects table only (one row per alert), "
            "so filters over the history may name objects (or objects_ext) alone; run now without over=all reads "
            "the newest stored objects with every table", None)
    tree = sqlglot.parse_one(compiled.sqlite_sql, read="sqlite")
    assert isinstance(tree, exp.Select)
    return _Translator(dialect, now_mjd).select(tree, compiled.output_columns)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def real_literal(value: float) -> str:
    """A DOUBLE literal in both dialects (a plain decimal would be a DECIMAL there)."""
    text = repr(float(value))
    if "e" not in text and "E" not in text:
        text += "e0"
    return text if value >= 0 else f"({text})"


def _literal_sql(value: Any) -> _E:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise HistoryUnsupported(f"the integer {value} is past 64 bits", None)
        return _E(f"CAST({value} AS BIGINT)", "int", mag=abs(value), const=value, is_const=True)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise HistoryUnsupported(f"the number {value} is not finite", None)
        return _E(real_literal(value), "real", const=value, is_const=True)
    if isinstance(value, str):
        return _E("'" + value.replace("'", "''") + "'", "text", const=value, is_const=True)
    raise HistoryUnsupported(f"a value of type {type(value).__name__} has no history equivalent", None)


# -- SQLite itself answers how it converts a literal -------------------------------------------------------

_SQLITE_LOCK = threading.Lock()
_SQLITE = sqlite3.connect(":memory:", check_same_thread=False)
_SQLITE.execute("CREATE TABLE numeric_affinity (x NUMERIC)")


def _sqlite_value(sql: str, *params: Any) -> Any:
    with _SQLITE_LOCK:
        return _SQLITE.execute(sql, params).fetchone()[0]


def _numeric_affinity(text: str) -> Any:
    """``text`` as SQLite's NUMERIC affinity leaves it: a number if it reads as one, else the text."""
    with _SQLITE_LOCK:
        _SQLITE.execute("DELETE FROM numeric_affinity")
        _SQLITE.execute("INSERT INTO numeric_affinity VALUES (?)", (text,))
        return _SQLITE.execute("SELECT x FROM numeric_affinity").fetchone()[0]


# -- functions -----------------------------------------------------------------------------------------------

_REAL_FUNCS = frozenset({"FLUX2MAG", "SQRT", "LOG10", "LOG2", "LN", "LOG", "EXP", "POW", "POWER", "SIN", "COS", "TAN",
                         "ASIN", "ACOS", "ATAN", "ATAN2", "DEGREES", "RADIANS", "TRUNCATE", "PI"})
_INT_FUNCS = frozenset({"SIGN", "FLOOR", "CEIL", "CEILING", "LENGTH", "CHAR_LENGTH", "LOCATE", "INSTR"})
_TEXT_FUNCS = frozenset({"CONCAT", "SUBSTRING", "SUBSTR", "MID", "LEFT", "RIGHT", "UPPER", "UCASE", "LOWER", "LCASE",
                         "TRIM", "LTRIM", "RTRIM"})
_SIG = {"int": "i", "real": "r", "text": "t"}
_SQL_TYPE = {"i": "BIGINT", "r": "DOUBLE", "t": "VARCHAR"}


def _result_kind(name: str, kinds: Sequence[str]) -> str | None:
    """The kind of ``name``'s result for arguments of these kinds (a NULL argument counts as an integer); None when
    SQLite would learn it per row (it follows a text argument's numeric reading, or a JSON document)."""
    if name in _REAL_FUNCS:
        return "real"
    if name in _INT_FUNCS:
        return "int"
    if name in _TEXT_FUNCS:
        return "text"
    present = set(kinds)
    if name in ("ABS", "ROUND"):
        first = kinds[0] if kinds else "int"
        return first if first in ("int", "real") else None
    if name == "MOD":
        if "text" in present:
            return None
        return "real" if "real" in present else "int"
    if name in ("GREATEST", "LEAST"):
        return next(iter(present)) if len(present) == 1 else ("int" if not present else None)
    return None  # JSON_EXTRACT


@dataclass(frozen=True)
class UdfSpec:
    name: str
    impl: Callable[..., Any]
    parameters: tuple[str, ...]  # SQL types
    return_type: str


_UDF_NAME = re.compile(r"\b(ss_[a-z0-9_]+?)__([itr]*)\b")


TRUTH_UDF = "ss_sqlite_truth__t"


def _sqlite_truth(text: str | None) -> bool | None:
    """Whether SQLite takes ``text`` as true (its leading number is not 0), asked of SQLite itself."""
    if text is None:
        return None
    return bool(_sqlite_value("SELECT CASE WHEN ? THEN 1 ELSE 0 END", text))


def udf_spec(name: str) -> UdfSpec:
    """How DuckDB registers ``ss_<function>__<kinds>`` (as :data:`_UDF_NAME` finds it in a statement): the
    matcher's own implementation, typed by the kinds the name spells."""
    if name == TRUTH_UDF:
        return UdfSpec(name, _sqlite_truth, ("VARCHAR",), "BOOLEAN")
    match = _UDF_NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"not a history UDF name: {name}")
    function = match.group(1)[len(UDF_PREFIX):].upper()
    sig = match.group(2)
    kinds = [next(k for k, v in _SIG.items() if v == c) for c in sig]
    result = _result_kind(function, kinds)
    spec = FUNCTIONS[function]
    assert result is not None and spec.impl is not None
    return UdfSpec(name, with_arity(spec.impl, len(sig)), tuple(_SQL_TYPE[c] for c in sig), _SQL_TYPE[_SIG[result]])


def with_arity(impl: Callable[..., Any], n: int) -> Callable[..., Any]:
    """``impl`` taking exactly ``n`` arguments: DuckDB counts a UDF's parameters from its signature."""
    params = ", ".join(f"a{i}" for i in range(n))
    made: Callable[..., Any] = eval(f"lambda {params}: impl({params})", {"impl": impl})
    return made


def udf_names(sql: str) -> set[str]:
    """Every history UDF a statement calls."""
    return {m.group(0) for m in _UDF_NAME.finditer(sql)}


class _Translator:
    def __init__(self, dialect: Dialect, now_mjd: float) -> None:
        self.dialect = dialect
        self.now_mjd = now_mjd
        self.columns = TABLES["objects"].columns
        self.alias = "objects"
        self.outputs: list[_E] = []
        self.output_names: tuple[str, ...] = ()

    # -- statement ----------------------------------------------------------------------------------------
    def select(self, tree: exp.Select, names: tuple[str, ...]) -> HistorySql:
        if tree.args.get("joins"):
            raise HistoryUnsupported("the filter joins objects with itself: over the history that is a join of every "
                                     "alert with every other, which the history does not run", None)
        table = tree.args["from_"].this
        self.alias = table.alias_or_name
        self.outputs = [self.value(e.this if isinstance(e, exp.Alias) else e) for e in tree.expressions]
        self.output_names = names
        select_list = ", ".join(f"{o.sql} AS {_q(n)}" for o, n in zip(self.outputs, names, strict=True))
        source = f'FROM "objects" AS {_q(self.alias)}'
        where = tree.args.get("where")
        where_sql = f" WHERE {self.truth(self.expr(where.this)).sql}" if where is not None else ""
        distinct = tree.args.get("distinct") is not None
        order = tree.args.get("order")
        if distinct:
            if any(o.nocase for o in self.outputs):
                raise HistoryUnsupported("DISTINCT over a text column: SQLite merges values that differ only in the "
                                         "case of ASCII letters (the column's NOCASE collation); the history engines "
                                         "would not", None)
            terms = [self.distinct_order_term(o) for o in (order.expressions if order is not None else [])]
            terms.extend(f"{i} NULLS FIRST" for i in range(1, len(self.outputs) + 1))  # ties: a stable order
            order_sql = " ORDER BY " + ", ".join(t for t in terms if t)
        else:
            terms = [self.order_term(o) for o in (order.expressions if order is not None else [])]
            terms.append(f'{_q(self.alias)}."diaObjectId" NULLS FIRST')  # ties: one stable order for paging
            order_sql = " ORDER BY " + ", ".join(t for t in terms if t)
        limit = tree.args.get("limit")
        limit_sql = f" LIMIT {int(limit.expression.this)}" if limit is not None else ""
        rows_sql = f"SELECT {'DISTINCT ' if distinct else ''}{select_list} {source}{where_sql}{order_sql}{limit_sql}"
        keys_sql = (f'SELECT {_q(self.alias)}."diaObjectId" AS "diaObjectId", {_q(self.alias)}."diaSourceId" AS '
                    f'"diaSourceId" {source}{where_sql}')
        if self.dialect == "trino" and len(rows_sql) > MAX_TRINO_SQL_CHARS:
            raise HistoryUnsupported(f"the filter's Athena SQL would be {len(rows_sql):,} characters long; Athena "
                                     f"takes at most {MAX_TRINO_SQL_CHARS:,}", None)
        return HistorySql(rows_sql=rows_sql, keys_sql=keys_sql, output_columns=names)

    def order_term(self, ordered: exp.Expression) -> str:
        desc = bool(ordered.args.get("desc"))
        node = ordered.this
        if isinstance(node, exp.Literal) and not node.is_string and re.fullmatch(r"\d+", str(node.this)):
            e = self.outputs[int(node.this) - 1]  # SQLite: ORDER BY K is the K-th result column
        elif isinstance(node, exp.Column) and not node.table:
            e = self.outputs[self._output_index(node.name)]
        else:
            e = self.value(node)
            if e.is_const:
                return ""  # a constant orders nothing
        key = self.fold(e) if e.nocase else e
        return f"{key.sql} {'DESC NULLS LAST' if desc else 'ASC NULLS FIRST'}"

    def distinct_order_term(self, ordered: exp.Expression) -> str:
        """With DISTINCT a term must be a result column (its position): a constant orders nothing, and an
        expression that is no result column has no one value per distinct row."""
        node = ordered.this
        if isinstance(node, exp.Literal) and not node.is_string and re.fullmatch(r"\d+", str(node.this)):
            position = int(node.this)
        elif isinstance(node, exp.Column) and not node.table:
            position = self._output_index(node.name) + 1
        else:
            e = self.value(node)
            if e.is_const:
                return ""
            found = [i for i, o in enumerate(self.outputs, 1) if o.sql == e.sql]
            if not found:
                raise HistoryUnsupported("DISTINCT with ORDER BY an expression that is not one of the selected "
                                         "columns: order by a selected column", None)
            position = found[0]
        return f"{position} {'DESC NULLS LAST' if ordered.args.get('desc') else 'ASC NULLS FIRST'}"

    def _output_index(self, name: str) -> int:
        for i, n in enumerate(self.output_names):
            if n == name:
                return i
        lowered = name.lower()
        for i, n in enumerate(self.output_names):
            if n.lower() == lowered:
                return i
        raise HistoryUnsupported(f"ORDER BY {name}: no selected column of that name", None)

    # -- expressions --------------------------------------------------------------------------------------
    def value(self, node: exp.Expression) -> _E:
        """An expression used as a value: a comparison's truth becomes SQLite's 0/1."""
        e = self.expr(node)
        return self.as_int(e) if e.kind == "bool" else e

    def as_int(self, e: _E) -> _E:
        if e.kind != "bool":
            return e
        if e.is_const:
            return _literal_sql(None if e.const is None else int(e.const))
        return _E(f"CAST({e.sql} AS BIGINT)", "int", mag=1)

    def expr(self, node: exp.Expression) -> _E:
        method = getattr(self, "x_" + type(node).__name__.lower(), None)
        if method is None:
            raise HistoryUnsupported(f"{type(node).__name__.upper()} is not translated for the history", None)
        result: _E = method(node)
        return result

    def x_paren(self, node: exp.Paren) -> _E:
        e = self.expr(node.this)
        return replace(e, sql=f"({e.sql})")

    def x_column(self, node: exp.Column) -> _E:
        if node.table and node.table != self.alias:
            raise HistoryUnsupported(f"column {node.sql()} of an unknown table", None)
        if not node.table:  # an output alias (ORDER BY)
            return self.outputs[self._output_index(node.name)]
        column = self.columns[node.name]
        if ("objects", column.name) in DERIVED:
            raise HistoryUnsupported(f"objects.{column.name} is taken from {DERIVED[('objects', column.name)]} when "
                                     "a batch is matched, and the history does not keep that table", None)
        sql = f"{_q(self.alias)}.{_q(column.name)}"
        if column.sql_type in ("BIGINT", "INTEGER"):
            return _E(sql, "int", affinity="int", mag=2**63 if column.sql_type == "BIGINT" else 2**31)
        if column.sql_type == "DOUBLE":
            return _E(sql, "real", affinity="real")
        return _E(sql, "text", affinity="text", nocase=True)

    def x_literal(self, node: exp.Literal) -> _E:
        text = str(node.this)
        if node.is_string:
            return _literal_sql(text)
        if re.fullmatch(r"\d+", text):
            value = int(text)
            if value > INT64_MAX:
                raise HistoryUnsupported(f"the number {text} is past 64-bit integers (SQLite reads it as a real)", None)
            return _literal_sql(value)
        return _literal_sql(float(text))

    def x_null(self, node: exp.Null) -> _E:
        return _NULL

    def x_boolean(self, node: exp.Boolean) -> _E:
        return _literal_sql(1 if node.this else 0)

    def x_neg(self, node: exp.Neg) -> _E:
        e = self.numeric(self.value(node.this), "-")
        if e.is_const:
            return _literal_sql(None if e.const is None else -e.const)
        return replace(e, sql=f"(- {e.sql})", affinity=None, nocase=False, is_const=False)

    # -- booleans -----------------------------------------------------------------------------------------
    def truth(self, e: _E) -> _E:
        """SQLite's truth of a value: a number is true unless 0, text by its numeric reading."""
        if e.kind == "bool":
            return e
        if e.kind == "null":
            return _E("CAST(NULL AS BOOLEAN)", "bool", is_const=True)
        if e.is_const:
            truth = _sqlite_value("SELECT CASE WHEN ? THEN 1 ELSE 0 END", e.const)
            return _E("TRUE" if truth else "FALSE", "bool", const=bool(truth), is_const=True)
        if e.kind == "text" and self.dialect == "duckdb":
            return _E(f"{TRUTH_UDF}({e.sql})", "bool")
        if e.kind == "text":
            raise HistoryUnsupported("text used as a condition: SQLite reads it as a number (its leading digits); "
                                     "compare it with a value instead", None)
        return _E(f"({e.sql} <> 0)", "bool")

    def x_and(self, node: exp.And) -> _E:
        a, b = self.truth(self.expr(node.this)), self.truth(self.expr(node.expression))
        return _E(f"({a.sql} AND {b.sql})", "bool")

    def x_or(self, node: exp.Or) -> _E:
        a, b = self.truth(self.expr(node.this)), self.truth(self.expr(node.expression))
        return _E(f"({a.sql} OR {b.sql})", "bool")

    def x_not(self, node: exp.Not) -> _E:
        a = self.truth(self.expr(node.this))
        return _E(f"(NOT {a.sql})", "bool")

    # -- comparisons --------------------------------------------------------------------------------------
    def compare(self, op: str, a: _E, b: _E) -> _E:
        a, b = self.as_int(a), self.as_int(b)
        if a.kind == "null" or b.kind == "null":
            return _E("CAST(NULL AS BOOLEAN)", "bool")
        a, b = self.affinity(a, b)
        numeric = ("int", "real")
        if a.kind in numeric and b.kind in numeric:
            if a.kind != b.kind:
                wide = a if a.kind == "int" else b
                if wide.mag > EXACT_INT:
                    raise HistoryUnsupported("an integer that may pass 2^53 compared with a real: SQLite compares them "
                                             "exactly, the history engines through floating point", None)
            return _E(f"({a.sql} {op} {b.sql})", "bool")
        if a.kind == "text" and b.kind == "text":
            if a.nocase or b.nocase:  # the left operand's column collation, else the right's: both NOCASE here
                a, b = self.fold(a), self.fold(b)
            return _E(f"({a.sql} {op} {b.sql})", "bool")
        # a number and a text, neither converted: every number sorts before every text in SQLite
        number_first = a.kind in numeric
        truth = {"=": False, "<>": True, "<": number_first, "<=": number_first, ">": not number_first,
                 ">=": not number_first}[op]
        nulls = [x.sql for x in (a, b) if not x.is_const]
        if not nulls:
            return _E("TRUE" if truth else "FALSE", "bool", const=truth, is_const=True)
        return _E(f"(CASE WHEN {' OR '.join(f'{n} IS NULL' for n in nulls)} THEN NULL ELSE {'TRUE' if truth else 'FALSE'} "
                  "END)", "bool")

    def affinity(self, a: _E, b: _E) -> tuple[_E, _E]:
        """SQLite's conversions before a comparison (datatype3.html, 4.2)."""
        numeric = ("int", "real")
        if a.affinity in numeric and b.affinity not in numeric and b.kind == "text":
            return a, self.to_numeric(b)
        if b.affinity in numeric and a.affinity not in numeric and a.kind == "text":
            return self.to_numeric(a), b
        if a.affinity == "text" and b.affinity is None and b.kind in numeric:
            return a, self.to_text(b, a.nocase)
        if b.affinity == "text" and a.affinity is None and a.kind in numeric:
            return self.to_text(a, b.nocase), b
        if (a.affinity == "text" and b.affinity in numeric) or (b.affinity == "text" and a.affinity in numeric):
            raise HistoryUnsupported("a text column compared with a number column: SQLite converts the text when it "
                                     "reads as a number, row by row", None)
        return a, b

    def to_numeric(self, e: _E) -> _E:
        if not e.is_const:
            raise HistoryUnsupported("text compared with a number column: SQLite converts the text when it reads as "
                                     "a number, row by row; compare with a number instead", None)
        return _literal_sql(_numeric_affinity(e.const))

    def to_text(self, e: _E, nocase: bool) -> _E:
        if not e.is_const:
            raise HistoryUnsupported("a number compared with a text column: SQLite compares it as text, written its "
                                     "own way; compare with a quoted string instead", None)
        return replace(_literal_sql(_sqlite_value("SELECT CAST(? AS TEXT)", e.const)), nocase=False)

    def fold(self, e: _E) -> _E:
        """ASCII letters to lower case, nothing else: SQLite's NOCASE."""
        if e.is_const:
            return _literal_sql(None if e.const is None else e.const.translate(str.maketrans(_UPPER, _UPPER.lower())))
        return _E(f"translate({e.sql}, '{_UPPER}', '{_UPPER.lower()}')", "text")

    def _binary(op: str) -> Callable[[_Translator, exp.Binary], _E]:  # type: ignore[misc]
        def method(self: _Translator, node: exp.Binary) -> _E:
            return self.compare(op, self.expr(node.this), self.expr(node.expression))
        return method

    x_eq = _binary("=")
    x_neq = _binary("<>")
    x_gt = _binary(">")
    x_gte = _binary(">=")
    x_lt = _binary("<")
    x_lte = _binary("<=")

    def x_between(self, node: exp.Between) -> _E:
        x = self.expr(node.this)
        low = self.compare(">=", x, self.expr(node.args["low"]))
        high = self.compare("<=", x, self.expr(node.args["high"]))
        return _E(f"({low.sql} AND {high.sql})", "bool")

    def x_in(self, node: exp.In) -> _E:
        x = self.expr(node.this)
        if node.args.get("query") or not node.expressions:
            raise HistoryUnsupported("IN without a list of values", None)
        parts = [self.compare("=", x, replace(self.expr(item), affinity=None)).sql for item in node.expressions]
        return _E("(" + " OR ".join(parts) + ")", "bool")

    def x_is(self, node: exp.Is) -> _E:
        a = self.value(node.this)
        other = node.expression
        if isinstance(other, exp.Null):
            return _E(f"({a.sql} IS NULL)", "bool")
        if isinstance(other, exp.Boolean):  # x IS TRUE / IS FALSE: never NULL
            t = self.truth(a)
            return _E(f"COALESCE({'' if other.this else 'NOT '}{t.sql}, FALSE)", "bool")
        return self.null_safe_equal(a, self.value(other))

    def x_nullsafeeq(self, node: exp.NullSafeEQ) -> _E:
        return self.null_safe_equal(self.value(node.this), self.value(node.expression))

    def null_safe_equal(self, a: _E, b: _E) -> _E:
        eq = self.compare("=", a, b)
        return _E(f"(CASE WHEN {a.sql} IS NULL AND {b.sql} IS NULL THEN TRUE WHEN {a.sql} IS NULL OR {b.sql} IS NULL "
                  f"THEN FALSE ELSE {eq.sql} END)", "bool")

    def x_like(self, node: exp.Like) -> _E:
        a, b = self.value(node.this), self.value(node.expression)
        if node.args.get("escape"):
            raise HistoryUnsupported("LIKE ... ESCAPE is not translated for the history", None)
        if a.kind == "null" or b.kind == "null":
            return _E("CAST(NULL AS BOOLEAN)", "bool")
        a, b = (self.text_of(x, "LIKE") for x in (a, b))
        return _E(f"({self.fold(a).sql} LIKE {self.fold(b).sql})", "bool")

    def text_of(self, e: _E, what: str) -> _E:
        if e.kind == "text":
            return e
        if e.is_const:
            return _literal_sql(_sqlite_value("SELECT CAST(? AS TEXT)", e.const))
        raise HistoryUnsupported(f"{what} on a number: SQLite writes the number as text its own way; the history "
                                 "engines would write it differently", None)

    # -- arithmetic ---------------------------------------------------------------------------------------
    def numeric(self, e: _E, what: str) -> _E:
        if e.kind in ("int", "real", "null"):
            return e
        if e.is_const:  # text: SQLite reads its leading number
            value = _sqlite_value("SELECT ? + 0", e.const)
            return _literal_sql(value)
        raise HistoryUnsupported(f"text in arithmetic ({what}): SQLite reads the text's leading digits as a number, "
                                 "row by row", None)

    def arithmetic(self, op: str, a: _E, b: _E) -> _E:
        a, b = self.numeric(self.value_of(a), op), self.numeric(self.value_of(b), op)
        if a.kind == "null" or b.kind == "null":
            return _NULL
        if op == "/":
            if a.kind == "int" and b.kind == "int":
                raise HistoryUnsupported("integer division is not translated for the history", None)
            sql = f"(CASE WHEN {b.sql} = 0 THEN NULL ELSE {a.sql} / {b.sql} END)"
        else:
            sql = f"({a.sql} {op} {b.sql})"
        if a.kind == "int" and b.kind == "int":
            mag = a.mag * b.mag if op == "*" else a.mag + b.mag
            return _E(sql, "int", mag=min(mag, 2**63))
        if a.may_inf or b.may_inf:
            sql = self.nan_to_null(sql)
        return _E(sql, "real", may_inf=True)

    def value_of(self, e: _E) -> _E:
        return self.as_int(e)

    def nan_to_null(self, sql: str) -> str:
        if self.dialect == "duckdb":
            return f"nullif({sql}, CAST('NaN' AS DOUBLE))"  # DuckDB: NaN = NaN
        return f"(CASE WHEN is_nan({sql}) THEN NULL ELSE {sql} END)"

    def x_add(self, node: exp.Add) -> _E:
        return self.arithmetic("+", self.expr(node.this), self.expr(node.expression))

    def x_sub(self, node: exp.Sub) -> _E:
        return self.arithmetic("-", self.expr(node.this), self.expr(node.expression))

    def x_mul(self, node: exp.Mul) -> _E:
        return self.arithmetic("*", self.expr(node.this), self.expr(node.expression))

    def x_div(self, node: exp.Div) -> _E:
        return self.arithmetic("/", self.expr(node.this), self.expr(node.expression))

    # -- CAST, CASE ---------------------------------------------------------------------------------------
    def x_cast(self, node: exp.Cast) -> _E:
        e = self.value(node.this)
        to = node.args["to"].this
        target = {exp.DataType.Type.INT: "int", exp.DataType.Type.DOUBLE: "real", exp.DataType.Type.TEXT: "text"}.get(to)
        if target is None:
            raise HistoryUnsupported(f"CAST to {to} is not translated for the history", None)
        sqlite_type = {"int": "INTEGER", "real": "REAL", "text": "TEXT"}[target]
        if e.is_const:
            out = _literal_sql(_sqlite_value(f"SELECT CAST(? AS {sqlite_type})", e.const))
        elif e.kind == "null":
            out = _NULL
        elif e.kind == target:
            out = replace(e)
        elif target == "real" and e.kind == "int":
            out = _E(f"CAST({e.sql} AS DOUBLE)", "real")
        elif target == "int" and e.kind == "real":
            out = _E(f"(CASE WHEN {e.sql} >= 9223372036854775807e0 THEN CAST(9223372036854775807 AS BIGINT) "
                     f"WHEN {e.sql} <= -9223372036854775808e0 THEN CAST(-9223372036854775808 AS BIGINT) "
                     f"ELSE CAST({self.trunc(e.sql)} AS BIGINT) END)", "int", mag=2**63)
        elif target == "text" and e.kind == "int":
            out = _E(f"CAST({e.sql} AS VARCHAR)", "text")
        else:
            raise HistoryUnsupported(f"CAST of {e.kind} to {sqlite_type}: SQLite converts it its own way, which the "
                                     "history engines do not share", None)
        keep_nocase = e.nocase and target == "text"
        return replace(out, affinity=target if out.kind != "null" else None, nocase=keep_nocase)

    def trunc(self, sql: str) -> str:
        return f"trunc({sql})" if self.dialect == "duckdb" else f"truncate({sql})"

    def unify(self, values: list[_E], what: str) -> Kind:
        """The one type of a CASE/IF/COALESCE result. Integers within 32 bits mixed with reals become reals:
        SQLite keeps such a value an integer, equal to the real in every comparison and function here
        (CAST to text of a real is refused)."""
        kinds = {v.kind for v in values if v.kind != "null"}
        if kinds == {"int", "real"} and all(v.mag <= 2**31 for v in values if v.kind == "int"):
            return "real"
        if len(kinds) > 1:
            raise HistoryUnsupported(f"{what} gives values of different types ({' and '.join(sorted(kinds))}): SQLite "
                                     "keeps each value's own type, the history engines one type per column", None)
        return next(iter(kinds)) if kinds else "null"

    def typed(self, e: _E, kind: Kind) -> str:
        if e.kind == "null" and kind != "null":
            return f"CAST(NULL AS {_SQL_TYPE[_SIG[kind]]})"
        if e.kind == "int" and kind == "real":
            return f"CAST({e.sql} AS DOUBLE)"
        return e.sql

    def x_case(self, node: exp.Case) -> _E:
        base = self.expr(node.this) if node.this is not None else None
        whens, results = [], []
        for branch in node.args["ifs"]:
            cond = self.expr(branch.this)
            cond = self.compare("=", base, cond) if base is not None else self.truth(cond)
            whens.append(cond)
            results.append(self.value(branch.args["true"]))
        default = node.args.get("default")
        otherwise = self.value(default) if default is not None else _NULL
        kind = self.unify([*results, otherwise], "CASE")
        parts = " ".join(f"WHEN {c.sql} THEN {self.typed(r, kind)}" for c, r in zip(whens, results, strict=True))
        mag = max((r.mag for r in [*results, otherwise]), default=0)
        return _E(f"(CASE {parts} ELSE {self.typed(otherwise, kind)} END)", kind, mag=mag,
                  may_inf=any(r.may_inf for r in results))

    def x_if(self, node: exp.If) -> _E:
        cond = self.truth(self.expr(node.this))
        a = self.value(node.args["true"])
        b = self.value(node.args["false"]) if node.args.get("false") is not None else _NULL
        kind = self.unify([a, b], "IF")
        return _E(f"(CASE WHEN {cond.sql} THEN {self.typed(a, kind)} ELSE {self.typed(b, kind)} END)", kind,
                  mag=max(a.mag, b.mag), may_inf=a.may_inf or b.may_inf)

    def x_coalesce(self, node: exp.Coalesce) -> _E:
        args = [self.value(node.this), *(self.value(a) for a in node.expressions)]
        kind = self.unify(args, "COALESCE")
        if len(args) == 1:
            return replace(args[0], affinity=None, nocase=False)
        return _E(f"COALESCE({', '.join(self.typed(a, kind) for a in args)})", kind, mag=max(a.mag for a in args),
                  may_inf=any(a.may_inf for a in args))

    def x_nullif(self, node: exp.Nullif) -> _E:
        a, b = self.value(node.this), self.value(node.expression)
        if a.kind == "null":
            return _NULL
        if b.kind == "null":
            return replace(a, affinity=None, nocase=False)
        if {a.kind, b.kind} <= {"int", "real"} or a.kind == b.kind == "text":
            # a function: no affinity; the first argument's column collation
            nocase = a.nocase or b.nocase
            eq = self.compare("=", replace(a, affinity=None, nocase=nocase), replace(b, affinity=None, nocase=nocase))
            return _E(f"(CASE WHEN {eq.sql} THEN NULL ELSE {a.sql} END)", a.kind, mag=a.mag, may_inf=a.may_inf)
        return replace(a, affinity=None, nocase=False)  # a number never equals a text

    # -- functions ----------------------------------------------------------------------------------------
    def x_anonymous(self, node: exp.Anonymous) -> _E:
        name = node.name.upper()
        if not name.startswith(UDF_PREFIX.upper()):
            raise HistoryUnsupported(f"function {node.name} is not translated for the history", None)
        function = name[len(UDF_PREFIX):]
        if function == "MJDNOW":
            return _literal_sql(float(self.now_mjd))
        args = [self.value(a) for a in node.expressions]
        spec = FUNCTIONS[function]
        if all(a.is_const for a in args):
            assert spec.impl is not None
            return _literal_sql(spec.impl(*(a.const for a in args)))
        kinds = [a.kind if a.kind != "null" else "int" for a in args]  # as the UDF's name spells them (udf_spec)
        result = _result_kind(function, kinds)
        if result is None:
            raise HistoryUnsupported(f"{function}({', '.join(a.kind for a in args)}): SQLite decides the type of its "
                                     "result row by row, the history engines once per column", None)
        if self.dialect == "trino":
            return self.trino_function(function, args, result)
        sig = "".join(_SIG[a.kind if a.kind != "null" else "int"] for a in args)
        call = f"{UDF_PREFIX}{function.lower()}__{sig}"
        arg_sql = ", ".join(self.typed(a, "int") if a.kind == "null" else a.sql for a in args)
        mag = 2**31 if function in ("LENGTH", "CHAR_LENGTH", "LOCATE", "INSTR", "SIGN") else 2**63
        if function in ("ABS", "ROUND", "MOD", "GREATEST", "LEAST") and result == "int":
            mag = max(a.mag for a in args if a.kind == "int")
        return _E(f"{call}({arg_sql})", result, mag=mag)  # type: ignore[arg-type]

    def trino_function(self, function: str, args: list[_E], result: str) -> _E:
        """Athena's own functions where they give what ours give; refused otherwise."""
        def refuse(why: str = "it has no exact Athena equivalent") -> HistoryUnsupported:
            return HistoryUnsupported(f"{function}() cannot run on Athena: {why}", None)

        kinds = {a.kind for a in args}
        if "null" in kinds:
            if function in ("ATAN2", "LOG", "ATAN"):  # the matcher reads a NULL second argument as none given
                raise refuse("a NULL second argument, which the matcher reads as none given")
            return _NULL  # every other function mapped here gives NULL for a NULL argument
        numeric = kinds <= {"int", "real"}
        x = args[0].sql if args else ""
        real = f"CAST({x} AS DOUBLE)"
        domain = {"SQRT": ">= 0", "LOG10": "> 0", "LOG2": "> 0", "LN": "> 0"}
        if function == "FLUX2MAG" and numeric:
            return _E(f"(CASE WHEN {x} > 0 THEN 31.4e0 - 2.5e0 * log10({real}) END)", "real")
        if function in domain and numeric:
            native = {"SQRT": "sqrt", "LOG10": "log10", "LOG2": "log2", "LN": "ln"}[function]
            return _E(f"(CASE WHEN {x} {domain[function]} THEN {native}({real}) END)", "real")
        if function in ("ABS",) and numeric:
            return _E(f"abs({x})", args[0].kind, mag=args[0].mag)  # type: ignore[arg-type]
        if function in ("FLOOR", "CEIL", "CEILING") and numeric:
            if args[0].kind == "int":
                return replace(args[0], affinity=None, nocase=False, is_const=False)
            native = "floor" if function == "FLOOR" else "ceiling"
            return _E(f"CAST({native}({x}) AS BIGINT)", "int", mag=2**63)
        if function == "SIGN" and numeric:
            return _E(f"CAST(sign({x}) AS BIGINT)", "int", mag=1)
        if function in ("SIN", "COS", "TAN", "DEGREES", "RADIANS") and numeric:
            return _E(f"{function.lower()}({real})", "real")
        if function == "ATAN2" and numeric:
            return _E(f"atan2(CAST({args[0].sql} AS DOUBLE), CAST({args[1].sql} AS DOUBLE))", "real")
        if function == "ROUND" and numeric and (len(args) == 1 or args[1].is_const):
            digits = 0 if len(args) == 1 else max(-30, min(30, int(args[1].const)))
            if args[0].kind == "int" and digits >= 0:
                return replace(args[0], affinity=None, nocase=False, is_const=False)
            if args[0].kind == "int":
                raise refuse("rounding an integer to tens or more")
            factor = real_literal(10.0 ** digits)
            return _E(f"(sign({x}) * floor(abs({x}) * {factor} + 0.5e0) / {factor})", "real")
        if function == "MOD" and numeric:
            a, b = args
            return _E(f"(CASE WHEN {b.sql} = 0 THEN NULL ELSE mod({a.sql}, {b.sql}) END)", result,  # type: ignore[arg-type]
                      mag=a.mag if result == "int" else 0)
        if function in ("GREATEST", "LEAST") and result in ("int", "real"):
            nulls = " OR ".join(f"{a.sql} IS NULL" for a in args)
            return _E(f"(CASE WHEN {nulls} THEN NULL ELSE {function.lower()}({', '.join(a.sql for a in args)}) END)",
                      result, mag=max(a.mag for a in args))  # type: ignore[arg-type]
        if function == "CONCAT" and kinds <= {"text", "int"}:
            parts = [a.sql if a.kind == "text" else f"CAST({a.sql} AS VARCHAR)" for a in args]
            return _E(f"concat({', '.join(parts)})" if len(parts) > 1 else parts[0], "text")
        if function == "CHAR_LENGTH" and kinds == {"text"}:
            return _E(f"CAST(length({x}) AS BIGINT)", "int", mag=2**31)
        if function == "LENGTH" and kinds == {"text"}:
            return _E(f"CAST(length(to_utf8({x})) AS BIGINT)", "int", mag=2**31)
        if function in ("LEFT", "RIGHT") and [a.kind for a in args] == ["text", "int"]:
            text, n = args[0].sql, args[1].sql  # code points in both, as Python slices
            if function == "LEFT":
                return _E(f"(CASE WHEN {n} <= 0 THEN '' ELSE substr({text}, 1, {n}) END)", "text")
            return _E(f"(CASE WHEN {n} <= 0 THEN '' ELSE substr({text}, greatest(length({text}) - {n} + 1, 1)) END)",
                      "text")
        if "text" in kinds and function not in _TEXT_FUNCS and function not in ("LENGTH", "CHAR_LENGTH", "LOCATE",
                                                                                  "INSTR"):
            raise refuse("its argument is text, which skystream reads as MySQL does (the leading number)")
        raise refuse()
