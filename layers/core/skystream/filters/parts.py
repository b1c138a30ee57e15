"""Lasair's three parts (selected, tables, conditions) <-> one SELECT statement.

Lasair's ``tables`` is a comma list of table names plus ``annotator:NAME`` entries; each
``annotator:NAME`` joins ``annotations AS NAME`` restricted to that annotator. ``objects_ext``
is the objects table (Lasair's builder rewrites it to ``objects``); ``watchlist:N`` (several allowed)
joins ``watchlist_hits`` restricted to those watchlists (:func:`watchlist_ids`; the compiler adds
``watchlist_hits.wl_id IN (...)``); ``watchmap:N`` or Lasair's ``area:N`` (several allowed) joins
``area_hits`` restricted to those watchmaps (:func:`watchmap_ids`, ``area_hits.ar_id IN (...)``). The three
parts become ``SELECT {selected} FROM {tables} WHERE {conditions}``; the checker then adds
Lasair's join conditions (every table's ``diaObjectId`` equals ``objects.diaObjectId``).
A full SELECT is checked as written and can be split back into parts for storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skystream.domain.errors import FilterRejected
from skystream.filters.check import SourceMap, SourcePart, check
from skystream.filters.schema import NOT_BUILT, SYNONYMS, TABLES, table_named

_ANNOTATOR = re.compile(r"^annotator\s*:\s*([A-Za-z_][A-Za-z0-9_]*)$", re.IGNORECASE)
_WATCHLIST = re.compile(r"^watchlists?\s*:\s*([0-9]{1,12})$", re.IGNORECASE)
_WATCHMAP = re.compile(r"^(?:watchmaps?|areas?)\s*:\s*([0-9]{1,12})$", re.IGNORECASE)
_WATCH = re.compile(r"^(watchlists?|watchmaps?|areas?)\s*:", re.IGNORECASE)
# white space and comments (-- and # to the end of the line, /* ... */) before the first word; a comment
# ends at its first */, and -- needs a space after it (MySQL's rules: --5 is minus minus five)
_LEADING = r"^(?:\s+|--(?=\s|$)[^\n]*|#[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*"
_STARTS_WITH_CLAUSE = re.compile(_LEADING + r"(ORDER\s+BY|LIMIT)\b", re.IGNORECASE | re.DOTALL)
_ONLY_COMMENTS = re.compile(_LEADING + r"$", re.DOTALL)
_RESERVED = frozenset(t.lower() for t in (*TABLES, *SYNONYMS, *NOT_BUILT))


@dataclass(frozen=True)
class FilterParts:
    selected: str
    tables: str
    conditions: str


@dataclass(frozen=True)
class TableEntry:
    table: str  # schema name
    alias: str  # annotator name for annotations, else the table name


def parse_tables(tables: str | None) -> list[TableEntry]:
    """``objects, sherlock_classifications, annotator:fastfinder`` -> entries; objects first.

    ``objects`` is added when missing: every filter selects objects."""
    entries: list[TableEntry] = []
    by_synonym: set[str] = set()
    offset = 0
    for raw in (tables or "").split(","):
        item = raw.strip()
        at = offset + raw.find(item)
        where = f" at col {at + 1} of tables" if item else ""
        offset += len(raw) + 1
        if not item:
            continue
        match = _ANNOTATOR.match(item)
        watchlist = _WATCHLIST.match(item)
        if watchlist:
            if not any(e.table == "watchlist_hits" for e in entries):
                entries.append(TableEntry("watchlist_hits", "watchlist_hits"))
            continue
        if _WATCHMAP.match(item):
            if not any(e.table == "area_hits" for e in entries):
                entries.append(TableEntry("area_hits", "area_hits"))
            continue
        if item.lower().startswith("watchlist"):
            hint = "write watchlist:N, N the watchlist's id (GET /watchlists lists yours and the public ones)"
            raise FilterRejected(f"{item} is not a watchlist{where} ({hint})", at, part="tables")
        if _WATCH.match(item) or item.lower() == "area_hits":
            hint = "write watchmap:N or area:N, N the watchmap's id (GET /watchmaps lists yours and the public ones)"
            raise FilterRejected(f"{item} is not a watchmap{where} ({hint})", at, part="tables")
        if item.lower() in NOT_BUILT:
            raise FilterRejected(f"{item} is not available{where}: {NOT_BUILT[item.lower()]} (see docs/filters.md)",
                                 at, part="tables")
        if match:
            name = match.group(1)
            if name.lower() in _RESERVED:
                raise FilterRejected(f"annotator name {name} clashes with a table name{where}", at, part="tables")
            entry = TableEntry("annotations", name)
        else:
            schema_name = table_named(item)
            if schema_name is None or schema_name == "annotations":
                hint = ("write annotator:NAME to join one annotator's annotations" if schema_name == "annotations"
                        else f"tables: {', '.join(t for t in TABLES if t != 'annotations')}, annotator:NAME")
                raise FilterRejected(f"unknown table {item}{where} ({hint})", at, part="tables")
            entry = TableEntry(schema_name, schema_name)
        if any(e.alias.lower() == entry.alias.lower() for e in entries):
            if item.lower() in SYNONYMS or entry.alias.lower() in by_synonym:
                continue  # objects and objects_ext: one table, as in Lasair
            raise FilterRejected(f"{item} is listed twice in tables{where}", at, part="tables")
        if item.lower() in SYNONYMS:
            by_synonym.add(entry.alias.lower())
        entries.append(entry)
    if not any(e.table == "objects" for e in entries):
        entries.insert(0, TableEntry("objects", "objects"))
    entries.sort(key=lambda e: e.table != "objects")
    return entries


def watchlist_ids(tables: str | None) -> frozenset[int]:
    """The N of every ``watchlist:N`` in ``tables``."""
    found = (_WATCHLIST.match(raw.strip()) for raw in (tables or "").split(","))
    return frozenset(int(m.group(1)) for m in found if m)


def watchmap_ids(tables: str | None) -> frozenset[int]:
    """The N of every ``watchmap:N`` or ``area:N`` in ``tables``."""
    found = (_WATCHMAP.match(raw.strip()) for raw in (tables or "").split(","))
    return frozenset(int(m.group(1)) for m in found if m)


def from_clause(entries: list[TableEntry]) -> str:
    return ", ".join(e.table if e.table != "annotations" else f"annotations AS {e.alias}" for e in entries)


def assemble(selected: str | None, tables: str | None, conditions: str | None) -> tuple[str, SourceMap]:
    """The three parts as one SELECT, and where each part sits in it (for error positions)."""
    if not (selected or "").strip():
        raise FilterRejected("selected is empty: name the columns to return, e.g. objects.diaObjectId", None,
                             part="selected")
    sel = selected or ""
    head = "SELECT "
    sql = head + sel + "\nFROM " + from_clause(parse_tables(tables))
    parts = [SourcePart("selected", len(head), sel)]
    cond = conditions or ""
    if cond.strip():
        sql += "\n" if _STARTS_WITH_CLAUSE.match(cond) or _ONLY_COMMENTS.match(cond) else "\nWHERE "
        parts.append(SourcePart("conditions", len(sql), cond))
        sql += cond
    return sql, SourceMap(tuple(parts))


def split_select(sql: str) -> FilterParts:
    """A full SELECT as Lasair's three parts, for storing it in the three-part form.

    Only what the three parts can say is accepted: plain table names and
    ``annotations AS NAME``; JOIN ... ON conditions move into conditions."""
    checked = check(sql)
    tree = checked.tree.copy()
    entries = []
    for ref in checked.refs.values():
        if ref.table == "annotations":
            entries.append(f"annotator:{ref.alias}")
        elif ref.alias.lower() != ref.table.lower():
            raise FilterRejected(f"table alias {ref.alias} cannot be stored as Lasair's three parts: "
                                 f"use the table name {ref.table}", None)
        else:
            entries.append(ref.table)
    conditions = []
    for join in tree.args.get("joins") or []:
        if (join.args.get("side") or "").upper() == "LEFT":
            raise FilterRejected("LEFT JOIN cannot be stored as Lasair's three parts, whose tables are all "
                                 "joined to objects: use a plain join", None)
        on = join.args.get("on")
        if on is not None:
            conditions.append(f"({on.sql(dialect='mysql')})")
    where = tree.args.get("where")
    if where is not None:
        conditions.append(f"({where.this.sql(dialect='mysql')})" if conditions else where.this.sql(dialect="mysql"))
    text = " AND ".join(conditions)
    for key in ("order", "limit"):
        clause = tree.args.get(key)
        if clause is not None:
            text += " " + clause.sql(dialect="mysql")
    selected = ", ".join(e.sql(dialect="mysql") for e in tree.expressions)
    return FilterParts(selected=selected, tables=", ".join(entries), conditions=text.strip())
