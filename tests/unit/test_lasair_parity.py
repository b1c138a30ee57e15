"""Schema parity with Lasair-LSST: every table and column its filters may name resolves in skystream.

Lasair's column lists are tests/lasair_reference/lasair_schema.json (from lsst-uk/lasair-lsst
common/schema/11_1, with the commit). Each column must be one a filter may use, under the same
name and of the same kind (number or text), in both of Lasair's ways of writing a filter; a column
NULL by design says why in the schema and docs/filters.md lists it. Tables not built yet are
refused with a message saying so.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes import MemoryAnnotations, MemoryContext, no_watchlists, no_watchmaps

from skystream.domain.errors import FilterRejected
from skystream.features.position import htm_index
from skystream.filters.compiler import FilterQuery, compile_filter
from skystream.filters.engine import SqliteEngine
from skystream.filters.schema import TABLES, schema_document, table_named
from skystream.services.context import broker_columns, load_text
from skystream.services.joins import Joins

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LASAIR = json.loads((ROOT / "tests" / "lasair_reference" / "lasair_schema.json").read_text())
PENDING: dict[str, str] = {}
"""Lasair tables not built yet (none since watchmaps): refused, saying so, until then."""
KIND = {"long": "number", "int": "number", "bigint": "number", "double": "number", "float": "number",
        "string": "text", "bigstring": "text", "text": "text", "JSON": "text", "date": "text", "timestamp": "text"}
OURS = {"BIGINT": "number", "INTEGER": "number", "DOUBLE": "number", "TEXT": "text"}
COLUMNS = [(table, name, kind) for table, spec in LASAIR["tables"].items() for name, kind in spec["columns"].items()]
BUILT = [c for c in COLUMNS if c[0] not in PENDING]


def select_one(table: str, column: str) -> list[FilterQuery]:
    """``table.column`` named as a Lasair user would: three parts, and one full SELECT."""
    if table == "annotations":
        return [FilterQuery(selected=f"ff.{column}", tables="objects, annotator:ff", conditions=""),
                FilterQuery(sql=f"SELECT ff.{column} FROM objects, annotations AS ff "
                                "WHERE ff.diaObjectId = objects.diaObjectId")]
    if table == "watchlist_hits":  # joined by naming the watchlist, in the three-part form only
        return [FilterQuery(selected=f"watchlist_hits.{column}", tables="objects, watchlist:1", conditions="")]
    if table == "area_hits":  # joined by naming the watchmap (or Lasair's area:N), in the three-part form only
        return [FilterQuery(selected=f"area_hits.{column}", tables="objects, watchmap:1", conditions=""),
                FilterQuery(selected=f"area_hits.{column}", tables="objects, area:1", conditions="")]
    tables = "objects" if table == "objects" else f"objects, {table}"
    return [FilterQuery(selected=f"{table}.{column}", tables=tables, conditions=""),
            FilterQuery(selected=f"{table}.{column}", tables="objects", conditions="")
            if table == "objects_ext" else FilterQuery(sql=f"SELECT {table}.{column} FROM {table}")]


def test_the_reference_lists_are_lasairs_current_schema() -> None:
    assert LASAIR["source"] == "https://github.com/lsst-uk/lasair-lsst" and len(LASAIR["commit"]) == 40
    assert set(LASAIR["tables"]) == {"objects", "objects_ext", "sherlock_classifications", "crossmatch_tns",
                                     "annotations", "watchlist_hits", "area_hits"}
    assert len(BUILT) == 193 and {k for *_, k in COLUMNS} <= set(KIND)


@pytest.mark.parametrize(("table", "column", "kind"), BUILT, ids=[f"{t}.{c}" for t, c, _ in BUILT])
def test_every_lasair_column_resolves_under_its_name_with_its_kind(table: str, column: str, kind: str) -> None:
    for query in select_one(table, column):
        compiled = compile_filter(query)
        assert compiled.output_columns == (column,)
    schema = TABLES[table_named(table) or ""].column(column)
    assert schema is not None and schema.name == column
    assert OURS[schema.sql_type] == KIND[kind], f"{table}.{column}: Lasair {kind}, skystream {schema.sql_type}"


def test_every_lasair_table_is_built_and_the_hit_tables_are_joined_by_naming_their_catalogue() -> None:
    assert not PENDING and set(LASAIR["tables"]) - {"objects_ext"} <= set(TABLES)
    for table, word in (("watchlist_hits", "watchlist"), ("area_hits", "watchmap")):
        with pytest.raises(FilterRejected, match=rf"{table} is joined by naming the {word}: .* {word}:N in tables"):
            compile_filter(FilterQuery(sql=f"SELECT {table}.diaObjectId FROM objects, {table}"))
    with pytest.raises(FilterRejected, match=r"watchmap:x is not a watchmap at col 10 of tables"):
        compile_filter(FilterQuery(selected="objects.diaObjectId", tables="objects, watchmap:x", conditions=""))


def test_objects_ext_is_the_objects_row_in_every_spelling() -> None:
    rows = [{"diaObjectId": 1, "ra": 1.0, "g_psfFluxSigma": 5.0}, {"diaObjectId": 2, "ra": 2.0, "g_psfFluxSigma": 50.0}]
    queries = {
        "three parts, objects only": FilterQuery(selected="objects_ext.g_psfFluxSigma, objects.ra", tables="objects",
                                                 conditions="objects_ext.g_psfFluxSigma > 10"),
        "three parts, both": FilterQuery(selected="objects_ext.g_psfFluxSigma, objects.ra",
                                         tables="objects, objects_ext", conditions="objects_ext.g_psfFluxSigma > 10"),
        "three parts, objects_ext only": FilterQuery(selected="objects_ext.g_psfFluxSigma, objects.ra",
                                                     tables="objects_ext", conditions="objects.g_psfFluxSigma > 10"),
        "porting guide spelling": FilterQuery(selected="objects-ext.g_psfFluxSigma, objects.ra", tables="objects",
                                              conditions="(objects-ext.g_psfFluxSigma > 10)"),
        "full, FROM objects_ext": FilterQuery(sql="SELECT objects_ext.g_psfFluxSigma, objects.ra FROM objects_ext "
                                                  "WHERE objects_ext.g_psfFluxSigma > 10"),
        "full, joined on itself": FilterQuery(sql="SELECT objects_ext.g_psfFluxSigma, objects.ra FROM objects JOIN "
                                                  "objects_ext ON objects.diaObjectId = objects_ext.diaObjectId "
                                                  "WHERE objects_ext.g_psfFluxSigma > 10"),
    }
    from skystream.filters.batch import BatchRows

    compiled = [(name, compile_filter(q)) for name, q in queries.items()]
    out = SqliteEngine().run(BatchRows(objects=rows), compiled)
    assert {name: o.rows for name, o in out.items()} == {name: [{"g_psfFluxSigma": 50.0, "ra": 2.0}] for name in queries}
    with pytest.raises(FilterRejected, match="objects_ext and objects are one table under two of Lasair's names"):
        compile_filter(FilterQuery(sql="SELECT objects.ra FROM objects LEFT JOIN objects_ext ON objects.ra > 1"))


def test_objects_tns_name_comes_from_crossmatch_tns_when_a_filter_reads_it() -> None:
    objects = [{"diaObjectId": 1, "ra": 1.0}, {"diaObjectId": 2, "ra": 2.0}]
    context = MemoryContext({"crossmatch_tns": [{"diaObjectId": 2, "tns_name": "2026abc", "type": "SN Ia"}]})
    joins = Joins(annotations=MemoryAnnotations(), context=context, watchlists=no_watchlists(), watchmaps=no_watchmaps())
    reads = compile_filter(FilterQuery(selected="objects.diaObjectId, objects.tns_name", tables="objects",
                                       conditions="objects.tns_name IS NOT NULL OR objects.ra < 1.5"))
    batch = joins.build(objects, [reads])
    assert context.calls == [([1, 2], ["crossmatch_tns"])]
    assert SqliteEngine().run(batch, [("f", reads)])["f"].rows == [
        {"diaObjectId": 1, "tns_name": None}, {"diaObjectId": 2, "tns_name": "2026abc"}]
    assert objects == [{"diaObjectId": 1, "ra": 1.0}, {"diaObjectId": 2, "ra": 2.0}], "the caller's rows untouched"
    everything = compile_filter(FilterQuery(selected="objects.*", tables="objects", conditions=""))
    assert "tns_name" in everything.output_columns
    context.calls.clear()
    joins.build(objects, [compile_filter(FilterQuery(selected="objects.diaObjectId", tables="objects",
                                                     conditions="objects.ra > 0"))])
    assert context.calls == [], "a batch whose filters do not read tns_name reads no TNS rows"


def test_unqualified_tns_name_is_ambiguous_with_crossmatch_tns_as_in_mysql() -> None:
    with pytest.raises(FilterRejected, match="column tns_name is ambiguous"):
        compile_filter(FilterQuery(selected="tns_name", tables="objects, crossmatch_tns", conditions=""))


def test_crossmatch_tns_rows_get_lasairs_broker_columns_when_loaded() -> None:
    loaded = datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    rows = broker_columns("crossmatch_tns", [
        {"diaObjectId": 1, "tns_name": "2026a", "ra": 150.25, "decl": 2.5},
        {"diaObjectId": 2, "tns_name": "2026b", "ra": 10.0, "decl": -5.0, "htm16": 7, "lasairmodified_date": "x"},
        {"diaObjectId": 3, "tns_name": "2026c", "ra": 10.0, "decl": 95.0},
    ], loaded)
    assert rows[0]["htm16"] == htm_index(150.25, 2.5) and rows[0]["lasairmodified_date"] == "2026-07-01 12:30:00"
    assert (rows[1]["htm16"], rows[1]["lasairmodified_date"]) == (7, "x"), "what the loaded row gives is kept"
    assert "htm16" not in rows[2], "no position, no index"
    context = MemoryContext()
    load_text("crossmatch_tns", json.dumps([{"diaObjectId": 4, "tns_name": "2026d", "ra": 1.0, "decl": 1.0}]),
              "json", context, now=loaded)
    assert context.puts[0][1][0]["htm16"] == htm_index(1.0, 1.0)
    assert broker_columns("sherlock_classifications", [{"diaObjectId": 1}], loaded) == [{"diaObjectId": 1}]


def test_null_by_design_columns_say_why_and_docs_list_them() -> None:
    docs = (ROOT / "docs" / "filters.md").read_text()
    table = docs[docs.index("## Lasair-LSST parity"):]
    nulls = [(t, c) for t, spec in schema_document().items() for c in spec if "null_reason" in c]
    assert {(t, c["name"]) for t, c in nulls} >= {("objects", "timestamp"), ("objects", "ebv"),
                                                   ("objects", "BBBRiseRate"), ("annotations", "annotationID")}
    for t, c in nulls:
        assert len(c["null_reason"]) > 40
        row = re.search(rf"^\| `{t}\.{c['name']}` \|.*\| NULL \|.*$", table, flags=re.M)
        assert row, f"docs/filters.md's parity table does not list {t}.{c['name']} as NULL"
    named = set()
    for token in re.findall(r"`([^`]+)`", table):
        name = token.split(".")[-1]
        named |= {name.replace("{b}", b) for b in "ugrizy"}
    missing = [f"{t}.{name}" for t, name, _ in BUILT if name not in named]
    assert not missing, f"docs/filters.md's parity table does not name {missing}"
