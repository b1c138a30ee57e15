"""TABLES: one source of truth for the checker, the batch database and the schema endpoint."""

from __future__ import annotations

import pytest
from filter_corpus.rows import make_batch

from skystream.features.columns import OBJECT_COLUMNS
from skystream.filters.compiler import FilterQuery, compile_filter
from skystream.filters.database import new_database
from skystream.filters.engine import SqliteEngine
from skystream.filters.parts import split_select
from skystream.filters.schema import JOIN_KEY, MATCH_TIME_COLUMNS, TABLES, schema_document

pytestmark = pytest.mark.unit


def test_objects_table_is_the_feature_columns() -> None:
    # issue 21: then Lasair's objects columns that no feature computes (tns_name at match time, timestamp NULL)
    assert [(c.name, c.sql_type) for c in TABLES["objects"].columns.values()] == [
        (c.name, c.sql_type) for c in OBJECT_COLUMNS] + [(c.name, c.sql_type) for c in MATCH_TIME_COLUMNS]


def test_every_table_joins_on_dia_object_id_and_describes_every_column() -> None:
    assert set(TABLES) == {"objects", "sherlock_classifications", "crossmatch_tns", "annotations", "watchlist_hits",
                           "area_hits"}
    for table in TABLES.values():
        assert JOIN_KEY in table.columns
        assert all(c.description and c.sql_type in ("BIGINT", "INTEGER", "DOUBLE", "TEXT") for c in table.columns.values())
    assert {"classification", "classdict", "annotator", "version", "explanation", "url", "timestamp"} <= set(
        TABLES["annotations"].columns)


def test_batch_database_has_every_table_and_column() -> None:
    conn = new_database()
    for name, table in TABLES.items():
        cols = [row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')]
        assert cols == list(table.columns)


def test_schema_document_lists_columns_with_types() -> None:
    doc = schema_document()
    assert doc["objects"][0] == {"name": "diaObjectId", "type": "BIGINT", "description": OBJECT_COLUMNS[0].description}


def test_full_select_and_its_three_parts_give_the_same_rows() -> None:
    batch = make_batch(400, seed=2)
    sql = ("SELECT objects.diaObjectId, sherlock_classifications.z, fastfinder.classification FROM objects, "
           "sherlock_classifications, annotations AS fastfinder WHERE objects.diaObjectId = "
           "sherlock_classifications.diaObjectId AND fastfinder.diaObjectId = objects.diaObjectId "
           "AND objects.latestR > 0.3 ORDER BY objects.diaObjectId")
    parts = split_select(sql)
    whole = compile_filter(FilterQuery(sql=sql))
    split = compile_filter(FilterQuery(selected=parts.selected, tables=parts.tables, conditions=parts.conditions))
    out = SqliteEngine().run(batch, [("whole", whole), ("split", split)])
    assert out["whole"].rows, "the query should match something"
    assert out["whole"].rows == out["split"].rows
