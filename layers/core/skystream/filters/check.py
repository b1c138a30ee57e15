"""The filter checker: parse once with sqlglot (MySQL dialect), then named passes over the tree.

Each pass knows one thing (comments, statements, node kinds, tables, columns, functions, lengths,
limits) and refuses with a message that says what is wrong, where, and how to fix it. It is an allow
list: a node kind, table, column or function not listed here is refused, whatever it is.
Strings are never matched against blacklists; the parse tree is the only truth.

Comments (``-- ...`` and ``# ...`` to the end of the line, ``/* ... */``, and MySQL's optimizer hints
``/*+ ... */``) are dropped from the tokens before the parser sees them, so the tree, every later pass
and the SQL that runs hold none: a comment can neither hide nor add anything. MySQL's executable
comments ``/*! ... */`` are refused, since MySQL runs their text as SQL.

A refusal is :class:`skystream.domain.errors.FilterRejected` (``str(exc)`` is the user-facing
message, ``position`` the 0-based offset in the text the user wrote): the same type the filter
service raises, so the API answers 400 ``invalid_filter`` wherever it was raised.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from skystream.domain.errors import FilterRejected
from skystream.filters.functions import FUNCTIONS
from skystream.filters.limits import (
    MAX_LIKE_PATTERN_BYTES,
    MAX_LIKE_PATTERNS_TOTAL_BYTES,
    MAX_STRING_LITERAL_BYTES,
    utf8_len,
)
from skystream.filters.schema import NOT_BUILT, SYNONYMS, TABLES, TableSchema, not_built, table_named

MAX_SQL_CHARS = 20_000
MAX_DEPTH = 300
"""Longest chain of operators (``a AND b AND c ...``: each counts as a level of the tree)."""
MAX_NESTING = 10
"""Deepest nesting of parentheses (a function call's and an IN list's included) and CASE ... END. Measured, not
guessed: SQLite's parser (a 100-entry stack) runs every construct nested this deep, alone or mixed with AND/OR,
comparisons and arithmetic inside each level (tests/unit/test_filter_nesting.py), and sqlglot's recursive parser
stays far inside Python's recursion limit wherever the filter is compiled (API, matcher, CLI), so acceptance
never depends on how deep the caller's stack is."""
MAX_PREFIX_RUN = 4
"""Most prefix operators in a row (``NOT NOT x``, ``- -x``): each is a recursion of the parser."""
MAX_LIMIT = 1_000_000_000
"""Largest LIMIT a filter may write (rows are capped at 1000 per filter per batch whatever it says)."""


class FilterSQL(MySQL):
    """MySQL, except every ordinary function call parses to ``Anonymous(name, args)``, so the
    function pass sees the name the user wrote and ``functions.py`` decides what it means."""

    class Parser(MySQL.Parser):
        FUNCTIONS: dict = {}  # type: ignore[type-arg]
        FUNCTION_PARSERS = {k: v for k, v in MySQL.Parser.FUNCTION_PARSERS.items() if k not in ("FLOOR", "CEIL")}


@dataclass(frozen=True)
class SourcePart:
    label: str  # "selected", "tables", "conditions", or "" for a full SELECT
    start: int  # offset of the part's first character in the checked text
    text: str


@dataclass(frozen=True)
class SourceMap:
    """Where each user-written part sits in the assembled SQL, so a refusal can point at the
    user's own text: ``at line 1, col 12 of conditions``."""

    parts: tuple[SourcePart, ...]

    @classmethod
    def whole(cls, sql: str) -> SourceMap:
        return cls((SourcePart("", 0, sql),))

    def locate(self, offset: int | None) -> tuple[str, int | None]:
        where, rel, _label = self.place(offset)
        return where, rel

    def place(self, offset: int | None) -> tuple[str, int | None, str | None]:
        """``(" at line L, col C of PART", offset within the part, the part's label or None)``."""
        if offset is None:
            return "", None, None
        for part in self.parts:
            if part.start <= offset <= part.start + len(part.text):
                rel = offset - part.start
                before = part.text[:rel]
                line = before.count("\n") + 1
                col = rel - (before.rfind("\n") + 1) + 1
                where = f" at line {line}, col {col}" + (f" of {part.label}" if part.label else "")
                return where, rel, part.label or None
        return "", None, None


@dataclass(frozen=True)
class TableRef:
    table: str  # schema name, e.g. "annotations"
    alias: str  # how the query names it, e.g. "fastfinder"; the table name when not aliased

    @property
    def schema(self) -> TableSchema:
        return TABLES[self.table]


@dataclass
class CheckedQuery:
    tree: exp.Select
    refs: dict[str, TableRef]  # lower-cased alias -> ref, in FROM order
    output_columns: tuple[str, ...] = ()
    annotators: frozenset[str] = field(default_factory=frozenset)


# Node kinds a filter may contain. Everything else is refused by name.
_ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    exp.Select, exp.From, exp.Join, exp.Where, exp.Order, exp.Ordered, exp.Limit, exp.Distinct,
    exp.Table, exp.TableAlias, exp.Identifier, exp.Column, exp.Star, exp.Alias,
    exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Neg, exp.Not, exp.And, exp.Or,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.Is, exp.In, exp.Between,
    exp.Like, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv, exp.Case, exp.If,
    exp.Cast, exp.DataType, exp.Anonymous, exp.Substring, exp.Trim,
)
_SUBQUERY_NODES = (exp.Subquery, exp.Union, exp.Intersect, exp.Except, exp.Exists, exp.With, exp.CTE, exp.Values)
_VARIABLE_NODES = (exp.Parameter, exp.SessionParameter, exp.Placeholder)
_OPENING_TOKENS = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE})
_CLOSING_TOKENS = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END})
_PREFIX_TOKENS = frozenset({TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE})
# After these a NOT, -, + or ~ starts an operand (a prefix operator); after anything else it is binary.
_BEFORE_PREFIX = _OPENING_TOKENS | _PREFIX_TOKENS | frozenset({
    TokenType.COMMA, TokenType.STAR, TokenType.SLASH, TokenType.MOD, TokenType.DIV, TokenType.DPIPE, TokenType.PIPE,
    TokenType.AMP, TokenType.CARET, TokenType.EQ, TokenType.NEQ, TokenType.GT, TokenType.GTE, TokenType.LT,
    TokenType.LTE, TokenType.NULLSAFE_EQ, TokenType.AND, TokenType.OR, TokenType.XOR, TokenType.SELECT,
    TokenType.WHERE, TokenType.WHEN, TokenType.THEN, TokenType.ELSE, TokenType.BETWEEN, TokenType.LIKE,
    TokenType.ILIKE, TokenType.IN, TokenType.ON, TokenType.LIMIT, TokenType.DISTINCT,
})
_SELECT_ARGS = frozenset({"expressions", "from", "from_", "joins", "where", "order", "limit", "distinct"})
# CAST target -> the SQLite type the compiler casts to; the checker refuses any other target
CAST_TYPES = {
    exp.DataType.Type.INT: "INTEGER", exp.DataType.Type.BIGINT: "INTEGER", exp.DataType.Type.UBIGINT: "INTEGER",
    exp.DataType.Type.UINT: "INTEGER", exp.DataType.Type.DECIMAL: "REAL", exp.DataType.Type.DOUBLE: "REAL",
    exp.DataType.Type.FLOAT: "REAL", exp.DataType.Type.CHAR: "TEXT", exp.DataType.Type.VARCHAR: "TEXT",
    exp.DataType.Type.TEXT: "TEXT",
}

# Names from Lasair-ZTF and from Rubin's own schema that users will type, with their
# Lasair-LSST column: difflib alone cannot guess that gmag means g_psfFlux.
_HINTS = {
    "gmag": "g_psfFlux", "rmag": "r_psfFlux", "imag": "i_psfFlux", "zmag": "z_psfFlux", "umag": "u_psfFlux",
    "ymag": "y_psfFlux", "magg": "g_psfFlux", "magr": "r_psfFlux", "ramean": "ra", "decmean": "decl",
    "dec": "decl", "objectid": "diaObjectId", "ncand": "nDiaSources", "ncandgp": "nDiaSources",
    "jdmax": "lastDiaSourceMjdTai", "jdmin": "firstDiaSourceMjdTai", "mjdmax": "lastDiaSourceMjdTai",
    "mjdmin": "firstDiaSourceMjdTai", "latestmjd": "lastDiaSourceMjdTai", "rb": "latestR", "drb": "latestR",
    "reliability": "latestR", "gal_lat": "glat", "peakextcorrabsmag": "absMag",
    **{f"jd{b}max": f"{b}_latestMJD" for b in "ugrizy"},
}
_TABLE_NAMES = frozenset(t.lower() for t in (*TABLES, *SYNONYMS, *NOT_BUILT))


class _Checker:
    def __init__(self, sql: str, source: SourceMap) -> None:
        self.sql = sql
        self.source = source
        self.token_list: list[Token] = []

    def select_list_texts(self) -> list[str]:
        """The text of each selected expression as written: the select list split at top-level commas."""
        texts: list[str] = []
        depth, current = 0, []
        for token in self.token_list[1:]:
            if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
                depth += 1
            elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
                depth -= 1
            if depth == 0 and token.token_type == TokenType.FROM:
                break
            if depth == 0 and token.token_type == TokenType.COMMA:
                texts.append(self._span(current))
                current = []
                continue
            if not current and token.token_type == TokenType.DISTINCT:
                continue
            current.append(token)
        texts.append(self._span(current))
        return texts

    def _span(self, tokens: list[Token]) -> str:
        return self.sql[tokens[0].start : tokens[-1].end + 1] if tokens else ""

    # -- helpers -------------------------------------------------------------
    def refuse(self, message: str, offset: int | None = None, hint: str = "") -> FilterRejected:
        where, rel, part = self.source.place(offset)
        text = f"{message}{where}" + (f" ({hint})" if hint else "")
        return FilterRejected(text, rel, part=part)

    @staticmethod
    def offset_of(node: exp.Expression) -> int | None:
        """Where the node starts: the earliest position any of its tokens carries."""
        starts = [int(sub.meta["start"]) for sub in _walk(node) if sub._meta and "start" in sub.meta]
        return min(starts) if starts else None

    # -- passes --------------------------------------------------------------
    def tokens(self) -> list[Token]:
        if not self.sql.strip():
            raise FilterRejected("the filter is empty: write at least the selected columns", None)
        if len(self.sql) > MAX_SQL_CHARS:
            raise FilterRejected(f"the filter is {len(self.sql)} characters long; the limit is {MAX_SQL_CHARS}", None)
        try:
            tokens = FilterSQL().tokenize(self.sql)
        except TokenError as exc:
            unclosed = _unclosed_comment(self.sql)
            if unclosed is not None:
                raise self.refuse("a /* comment is not closed", unclosed, "end it with */") from None
            raise FilterRejected(f"could not read the SQL: {_first_line(str(exc))}", None) from None
        tokens = self.lasair_spellings(self.comments(tokens))
        self.token_list = tokens
        self.nesting(tokens)
        for token in tokens:
            if token.token_type == TokenType.INTO:
                raise self.refuse("INTO is not allowed: a filter only returns rows", token.start)
            if token.token_type == TokenType.SEMICOLON:
                raise self.refuse("';' is not allowed: a filter is exactly one SELECT statement", token.start)
        return tokens

    def comments(self, tokens: list[Token]) -> list[Token]:
        """Drop every comment and optimizer hint; refuse MySQL's executable comments (``/*! ... */``).

        Between two tokens there is only white space and comments, so the text there is read for
        ``/*!`` with comment rules alone (a ``/*!`` inside a quoted string is a token, not a gap)."""
        previous_end = -1
        for token in [*tokens, None]:
            start = len(self.sql) if token is None else token.start
            found = _executable_comment(self.sql[previous_end + 1 : start])
            if found is not None:
                raise self.refuse("MySQL executable comments are not allowed: MySQL runs the text of /*! ... */ "
                                  "as SQL", previous_end + 1 + found, "write /* ... */ for a comment")
            if token is not None:
                token.comments = []
                previous_end = token.end
        return [t for t in tokens if t.token_type != TokenType.HINT]

    @staticmethod
    def lasair_spellings(tokens: list[Token]) -> list[Token]:
        """``objects-ext.col`` (so written in Lasair's porting guide) is ``objects_ext.col``: merged when written
        without spaces and followed by a dot. It has no other reading: ``objects`` is no column of any table."""
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            t = tokens[i]
            window = tokens[i : i + 4]
            if (len(window) == 4 and [w.token_type for w in window] == [TokenType.VAR, TokenType.DASH, TokenType.VAR,
                                                                         TokenType.DOT]
                    and t.text.lower() == "objects" and window[2].text.lower() == "ext"
                    and t.end + 1 == window[1].start and window[1].end + 1 == window[2].start):
                out.append(Token(TokenType.VAR, "objects_ext", t.line, t.col, t.start, window[2].end, []))
                i += 3
                continue
            out.append(t)
            i += 1
        return out

    def nesting(self, tokens: list[Token]) -> None:
        """Refuse nesting deeper than :data:`MAX_NESTING` (or :data:`MAX_PREFIX_RUN` prefix operators in a row),
        on the tokens, before the recursive parser runs."""
        level = run = 0
        previous: TokenType | None = None
        for token in tokens:
            kind = token.token_type
            prefix = kind in _PREFIX_TOKENS and (previous is None or previous in _BEFORE_PREFIX)
            previous = kind
            if prefix:  # NOT x, -x; not the minus of a - b, nor the NOT of IS NOT / NOT LIKE
                run += 1
                if run > MAX_PREFIX_RUN:
                    raise self.refuse(f"more than {MAX_PREFIX_RUN} NOT or sign operators are nested in a row", token.start,
                                      "two NOTs cancel: remove them in pairs")
                continue
            run = 0
            if kind in _OPENING_TOKENS:
                level += 1
                if level > MAX_NESTING:
                    raise self.refuse(f"the filter is nested more than {MAX_NESTING} levels deep here (each "
                                      "parenthesis, function call and CASE is a level)", token.start,
                                      "split the condition into simpler parts joined by AND / OR")
            elif kind in _CLOSING_TOKENS:
                level = max(0, level - 1)

    def parse(self) -> exp.Select:
        try:
            statements = FilterSQL().parser().parse(self.token_list, self.sql)  # the tokens() pass's tokens
        except ParseError as exc:
            err = exc.errors[0] if exc.errors else {}
            desc = str(err.get("description") or _first_line(str(exc)))
            offset = _offset_of_line_col(self.sql, err.get("line"), err.get("col"))
            token = err.get("highlight")
            near = f" near '{token}'" if token else ""
            raise self.refuse(f"SQL syntax error{near}: {desc}", offset) from None
        except RecursionError:
            raise FilterRejected("the filter is nested too deeply to check", None) from None
        statements = [s for s in statements if s is not None]
        if len(statements) != 1:
            raise FilterRejected("a filter is exactly one SELECT statement", None)
        tree = statements[0]
        if isinstance(tree, exp.Union | exp.Intersect | exp.Except):
            raise self.refuse("UNION, INTERSECT and EXCEPT are not allowed: a filter is one SELECT", self.offset_of(tree))
        if not isinstance(tree, exp.Select):
            kind = tree.key.upper()
            raise self.refuse(f"only SELECT is allowed, not {kind}", self.offset_of(tree))
        return tree

    def statement(self, tree: exp.Select) -> None:
        for key, value in tree.args.items():
            if value in (None, [], False) or key in _SELECT_ARGS:
                continue
            name = {"into": "INTO", "group": "GROUP BY", "having": "HAVING", "with": "WITH", "offset": "OFFSET",
                    "locks": "FOR UPDATE / LOCK", "windows": "WINDOW"}.get(key, key.upper())
            node = value if isinstance(value, exp.Expression) else None
            raise self.refuse(f"{name} is not allowed in a filter", self.offset_of(node) if node else None)
        if not (tree.args.get("from") or tree.args.get("from_")):
            raise self.refuse("the filter needs FROM: name the tables (objects, ...)", None)

    def depth(self, tree: exp.Select) -> None:
        stack: list[tuple[exp.Expression, int]] = [(tree, 0)]
        while stack:
            node, d = stack.pop()
            if d > MAX_DEPTH:
                raise self.refuse(f"the filter is nested more than {MAX_DEPTH} levels deep (each AND, OR or operator "
                                  "in a chain counts as a level)", self.offset_of(node))
            stack.extend((child, d + 1) for child in _children(node))

    def node_kinds(self, tree: exp.Select) -> None:
        for node in _walk(tree):
            if (node is not tree and isinstance(node, exp.Select)) or isinstance(node, _SUBQUERY_NODES):
                raise self.refuse("subqueries are not allowed in filters", self.offset_of(node))
            if isinstance(node, _VARIABLE_NODES):
                raise self.refuse("variables are not allowed in filters", self.offset_of(node))
            if isinstance(node, _ALLOWED_NODES):
                continue
            if isinstance(node, exp.Func):
                name = _func_name(node)
                raise self.refuse(f"function {name} is not allowed", self.offset_of(node), _function_hint(name))
            raise self.refuse(f"{_describe(node)} is not allowed in a filter", self.offset_of(node))

    def tables(self, tree: exp.Select) -> dict[str, TableRef]:
        from_ = tree.args.get("from") or tree.args.get("from_")
        items: list[tuple[exp.Expression, exp.Join | None]] = [(from_.this, None)]
        for join in tree.args.get("joins") or []:
            if join.args.get("using"):
                raise self.refuse("JOIN ... USING is not allowed: write JOIN ... ON a.diaObjectId = b.diaObjectId",
                                  self.offset_of(join))
            side, kind = (join.args.get("side") or "").upper(), (join.args.get("kind") or "").upper()
            if side in ("RIGHT", "FULL") or kind in ("NATURAL", "SEMI", "ANTI", "STRAIGHT_JOIN") or (
                    kind == "OUTER" and side != "LEFT"):
                raise self.refuse(f"{(side + ' ' + kind).strip()} JOIN is not allowed: use JOIN or LEFT JOIN",
                                  self.offset_of(join))
            items.append((join.this, join))
        refs: dict[str, TableRef] = {}
        by_synonym: set[str] = set()  # refs first named by a synonym
        for item, join in items:
            if not isinstance(item, exp.Table):
                raise self.refuse("only table names may follow FROM", self.offset_of(item))
            if item.args.get("db") or item.args.get("catalog"):
                qualifier = item.args.get("db") or item.args.get("catalog")
                raise self.refuse(f"database {qualifier.name} is not available to filters", self.offset_of(item),
                                  f"tables: {', '.join(TABLES)}")
            name = item.name
            if not_built(name):
                raise self.refuse(f"table {name} is not available: {not_built(name)}", self.offset_of(item),
                                  "see docs/filters.md")
            schema_name = table_named(name)
            if schema_name is None:
                raise self.refuse(f"unknown table {name}", self.offset_of(item), _suggest(name, list(TABLES), "did you mean"))
            synonym = name.lower() in SYNONYMS
            if synonym:  # Lasair's other name (objects_ext): write the table's own name in its place
                item.set("this", _renamed(item.this, schema_name))
            alias = item.alias or schema_name
            if not item.alias and alias.lower() in refs and (synonym or alias.lower() in by_synonym):
                self.same_table(tree, name, schema_name, item, join)
                continue
            if synonym and not item.alias:
                by_synonym.add(alias.lower())
            if schema_name == "annotations" and not item.alias:
                raise self.refuse("annotations needs an annotator name: write annotator:NAME in tables, "
                                  "or annotations AS NAME in FROM", self.offset_of(item))
            if item.alias and alias.lower() in _TABLE_NAMES and alias.lower() != schema_name.lower():
                raise self.refuse(f"alias {alias} is the name of another table", self.offset_of(item))
            if alias.lower() in refs:
                raise self.refuse(f"table {alias} appears twice: give each use a different alias", self.offset_of(item))
            refs[alias.lower()] = TableRef(schema_name, alias)
        return refs

    def same_table(self, tree: exp.Select, name: str, schema_name: str, item: exp.Table, join: exp.Join | None) -> None:
        """``FROM objects, objects_ext``: one table under two of Lasair's names (Lasair's query builder makes
        it ``objects``). An inner join of the row with itself is the row: the second name is dropped, its
        ON condition kept in WHERE. A LEFT JOIN could add NULL rows, so it is refused."""
        if join is None or (join.args.get("side") or "").upper() == "LEFT":
            raise self.refuse(f"{name} and {schema_name} are one table under two of Lasair's names: name it once",
                              self.offset_of(item))
        on = join.args.get("on")
        join.pop()
        if on is not None:
            tree.where(on, copy=False)

    def columns(self, tree: exp.Select, refs: dict[str, TableRef]) -> None:
        aliases = {e.alias.lower() for e in tree.expressions if isinstance(e, exp.Alias)}
        order = tree.args.get("order")
        in_order = {id(n) for n in _walk(order)} if order is not None else set()
        for node in _walk(tree):
            if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Column):
                if node.parent is not tree:
                    raise self.refuse("'*' is only allowed as a selected column", self.offset_of(node))
                continue
            if not isinstance(node, exp.Column):
                continue
            if node.args.get("db") or node.args.get("catalog"):
                raise self.refuse(f"{node.sql(dialect=FilterSQL)}: write table.column", self.offset_of(node))
            qualifier = node.table
            if isinstance(node.this, exp.Star):
                if node.parent is not tree:
                    raise self.refuse(f"'{qualifier}.*' is only allowed as a selected column", self.offset_of(node))
                if qualifier.lower() not in refs:
                    raise self.refuse(f"table {qualifier} is not in tables", self.offset_of(node),
                                      f"add it to tables: {', '.join(r.alias for r in refs.values())}, {qualifier}")
                continue
            name = node.name
            if qualifier:
                ref = refs.get(qualifier.lower())
                if ref is None and qualifier.lower() in SYNONYMS:  # objects_ext.x is objects.x
                    ref = refs.get(SYNONYMS[qualifier.lower()])
                    if ref is not None:
                        node.set("table", _renamed(node.args["table"], ref.alias))
                if ref is None and not_built(qualifier):
                    raise self.refuse(f"column {qualifier}.{name} is not available: {not_built(qualifier)}",
                                      self.offset_of(node), "see docs/filters.md")
                if ref is None:
                    known = table_named(qualifier)
                    if known:
                        raise self.refuse(f"column {qualifier}.{name} is of table {known}, which is not in tables",
                                          self.offset_of(node), f"add {known} to tables")
                    raise self.refuse(f"unknown table {qualifier} in {qualifier}.{name}", self.offset_of(node),
                                      _suggest(qualifier, [r.alias for r in refs.values()], "did you mean"))
                column = ref.schema.column(name)
                if column is None:
                    raise self.refuse(f"unknown column {qualifier}.{name}", self.offset_of(node),
                                      _column_hint(name, ref))
                node.set("this", exp.to_identifier(column.name))
                continue
            if id(node) in in_order and name.lower() in aliases:
                continue
            owners = [r for r in refs.values() if r.schema.column(name) is not None]
            if not owners:
                primary = next(iter(refs.values()))
                raise self.refuse(f"unknown column {name}", self.offset_of(node), _column_hint(name, primary, refs))
            if len(owners) > 1:
                choices = " or ".join(f"{r.alias}.{r.schema.column(name).name}" for r in owners)  # type: ignore[union-attr]
                raise self.refuse(f"column {name} is ambiguous", self.offset_of(node), f"write {choices}")
            column = owners[0].schema.column(name)
            node.set("this", exp.to_identifier(column.name))  # type: ignore[union-attr]
            node.set("table", exp.to_identifier(owners[0].alias))

    def functions(self, tree: exp.Select) -> None:
        for node in _walk(tree):
            if isinstance(node, exp.Anonymous):
                name = node.name.upper()
                spec = FUNCTIONS.get(name)
                if spec is None:
                    raise self.refuse(f"function {node.name} is not allowed", self.offset_of(node), _function_hint(name))
                n = len(node.expressions)
                if any(isinstance(a, exp.Star) for a in node.expressions):
                    raise self.refuse(f"{name}(*) is not allowed", self.offset_of(node))
                if n < spec.min_args or (spec.max_args >= 0 and n > spec.max_args):
                    want = (str(spec.min_args) if spec.min_args == spec.max_args else
                            f"at least {spec.min_args}" if spec.max_args < 0 else f"{spec.min_args} to {spec.max_args}")
                    raise self.refuse(f"{name} takes {want} argument(s), not {n}", self.offset_of(node))
            elif isinstance(node, exp.Trim):
                if node.args.get("position") or node.args.get("expression") or node.args.get("collation"):
                    raise self.refuse("TRIM takes one argument here: TRIM(text)", self.offset_of(node))
            elif isinstance(node, exp.Cast):
                to = node.args.get("to")
                if not isinstance(to, exp.DataType) or to.this not in CAST_TYPES:
                    target = to.sql(dialect=FilterSQL) if isinstance(to, exp.Expression) else "?"
                    raise self.refuse(f"CAST to {target} is not allowed", self.offset_of(node),
                                      "use SIGNED, UNSIGNED, DECIMAL, DOUBLE or CHAR")
            elif isinstance(node, exp.Literal) and not node.is_string:
                try:
                    float(node.this)
                except ValueError:
                    raise self.refuse(f"unreadable number {node.this}", self.offset_of(node)) from None

    def lengths(self, tree: exp.Select) -> None:
        """Quoted strings and LIKE patterns within ``filters.limits``: a LIKE costs up to pattern
        x text per row, and SQLite cannot stop a filter inside one row (see filters/limits.py)."""
        total = 0
        for node in _walk(tree):
            if isinstance(node, exp.Literal) and node.is_string:
                size = utf8_len(node.this)
                if size > MAX_STRING_LITERAL_BYTES:
                    raise self.refuse(f"a quoted string of {size} bytes (UTF-8); the limit is "
                                      f"{MAX_STRING_LITERAL_BYTES} bytes", self.offset_of(node))
            elif isinstance(node, exp.Like):
                pattern = node.expression
                if isinstance(pattern, exp.Literal) and pattern.is_string:
                    size = utf8_len(pattern.this)
                    if size > MAX_LIKE_PATTERN_BYTES:
                        raise self.refuse(f"a LIKE pattern of {size} bytes (UTF-8); the limit is "
                                          f"{MAX_LIKE_PATTERN_BYTES} bytes", self.offset_of(pattern),
                                          "LIKE costs pattern length x text length on every row")
                else:
                    size = MAX_LIKE_PATTERN_BYTES  # computed: SQLite refuses it beyond that when it runs
                total += size
                if total > MAX_LIKE_PATTERNS_TOTAL_BYTES:
                    raise self.refuse(f"the LIKE patterns of this filter add up to more than "
                                      f"{MAX_LIKE_PATTERNS_TOTAL_BYTES} bytes (a pattern that is not a quoted "
                                      f"string counts as {MAX_LIKE_PATTERN_BYTES})", self.offset_of(node),
                                      "use fewer or shorter patterns, or = / IN for exact values")

    def limits(self, tree: exp.Select) -> None:
        limit = tree.args.get("limit")
        if limit is None:
            return
        value = limit.expression
        if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
            raise self.refuse("LIMIT takes a whole number, e.g. LIMIT 100", self.offset_of(limit))
        digits = value.this.lstrip("0") or "0"
        if len(digits) > len(str(MAX_LIMIT)) or int(digits) > MAX_LIMIT:  # length first: int() of 5,000 digits raises
            shown = digits if len(digits) <= 20 else f"{digits[:12]}... ({len(digits)} digits)"
            raise self.refuse(f"LIMIT {shown} is too large: the most is {MAX_LIMIT:,}", self.offset_of(value),
                              "a filter returns at most 1000 rows per batch whatever its LIMIT")

    def output_columns(self, tree: exp.Select, refs: dict[str, TableRef]) -> tuple[str, ...]:
        """Result names as MySQL gives them: the alias, else the column name (objects.ra -> ra),
        else the expression as written."""
        names: list[str] = []
        texts = self.select_list_texts()
        if len(texts) != len(tree.expressions):
            texts = [""] * len(tree.expressions)
        for e, written in zip(tree.expressions, texts, strict=True):
            if isinstance(e, exp.Alias):
                names.append(e.alias)
            elif isinstance(e, exp.Star):
                names.extend(c for r in refs.values() for c in r.schema.columns)
            elif isinstance(e, exp.Column) and isinstance(e.this, exp.Star):
                names.extend(refs[e.table.lower()].schema.columns)
            elif isinstance(e, exp.Column):
                names.append(e.name)
            else:
                names.append(written or e.sql(dialect=FilterSQL))
        return tuple(names)


def check(sql: str, source: SourceMap | None = None) -> CheckedQuery:
    """Parse ``sql`` once and run every pass; raise FilterRejected naming what and where."""
    checker = _Checker(sql, source or SourceMap.whole(sql))
    try:
        checker.tokens()
        tree = checker.parse()
        checker.depth(tree)
        checker.statement(tree)
        checker.node_kinds(tree)
        refs = checker.tables(tree)
        checker.functions(tree)
        checker.lengths(tree)
        outputs = checker.output_columns(tree, refs)
        checker.columns(tree, refs)
        checker.limits(tree)
    except RecursionError:
        raise FilterRejected("the filter is nested too deeply to check", None) from None
    annotators = frozenset(r.alias for r in refs.values() if r.table == "annotations")
    return CheckedQuery(tree=tree, refs=refs, output_columns=outputs, annotators=annotators)


# -- small helpers -----------------------------------------------------------

def _children(node: exp.Expression) -> Iterator[exp.Expression]:
    for value in node.args.values():
        if isinstance(value, exp.Expression):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, exp.Expression))


def _walk(node: exp.Expression | None) -> Iterator[exp.Expression]:
    """Iterative pre-order walk (no recursion: hostile nesting must not blow the stack)."""
    if node is None:
        return
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(_children(current))))


def _renamed(identifier: exp.Expression, name: str) -> exp.Identifier:
    """A new name in place of ``identifier``, keeping where it was written (for later messages)."""
    renamed = exp.to_identifier(name)
    if identifier._meta:
        renamed.meta.update(identifier.meta)
    return renamed


def _executable_comment(gap: str) -> int | None:
    """Where ``/*!`` opens a comment in text that holds only white space and comments (None: nowhere)."""
    i = 0
    while i < len(gap):
        if gap.startswith("/*", i):
            if gap.startswith("/*!", i):
                return i
            end = gap.find("*/", i + 2)
            i = len(gap) if end < 0 else end + 2
        elif gap.startswith("--", i) or gap[i] == "#":
            end = gap.find("\n", i)
            i = len(gap) if end < 0 else end + 1
        else:
            i += 1
    return None


def _unclosed_comment(sql: str) -> int | None:
    """Where a ``/*`` that is never closed opens, if that is why the SQL cannot be read."""
    start = sql.rfind("/*")
    if start < 0 or "*/" in sql[start + 2 :]:
        return None
    try:
        FilterSQL().tokenize(sql[:start])
    except TokenError:
        return None
    return start


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _offset_of_line_col(sql: str, line: object, col: object) -> int | None:
    if not isinstance(line, int) or not isinstance(col, int):
        return None
    lines = sql.split("\n")
    if not 1 <= line <= len(lines):
        return None
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(0, min(col - 1, len(lines[line - 1])))


def _func_name(node: exp.Expression) -> str:
    try:
        return node.sql_name() if isinstance(node, exp.Func) else node.key.upper()
    except Exception:
        return node.key.upper()


def _describe(node: exp.Expression) -> str:
    special = {exp.Into: "INTO", exp.Xor: "XOR", exp.Interval: "INTERVAL", exp.Collate: "COLLATE",
               exp.Escape: "LIKE ... ESCAPE", exp.HexString: "hex literal", exp.BitString: "bit literal",
               exp.Introducer: "character set introducer", exp.Var: f"'{node.name}'", exp.RegexpLike: "REGEXP"}
    for kind, text in special.items():
        if isinstance(node, kind):
            return text
    if isinstance(node, exp.Binary):
        return f"operator {node.key.upper()}"
    return node.key.upper()


def _suggest(word: str, choices: list[str], lead: str) -> str:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not found:
        found = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
        found = [next(c for c in choices if c.lower() == found[0])] if found else []
    return f"{lead} {found[0]}?" if found else ""


def _column_hint(name: str, ref: TableRef, refs: dict[str, TableRef] | None = None) -> str:
    hinted = _HINTS.get(name.lower())
    if hinted and ref.schema.column(hinted):
        return f"did you mean {ref.alias}.{hinted}?"
    for other in (refs or {}).values():
        if other.schema.column(name):
            return f"did you mean {other.alias}.{other.schema.column(name).name}?"  # type: ignore[union-attr]
    close = _suggest(name, list(ref.schema.columns), "")
    if close:
        return f"did you mean {ref.alias}.{close.strip().rstrip('?')}?"
    elsewhere = [t for t, s in TABLES.items() if s.column(name) and t != ref.table]
    if elsewhere:
        return f"{name} is a column of {elsewhere[0]}: add it to tables"
    return "see the schema for the columns"


def _function_hint(name: str) -> str:
    close = _suggest(name.upper(), list(FUNCTIONS), "did you mean")
    return close or "see docs/filters.md for the functions a filter may call"
