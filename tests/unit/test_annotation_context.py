"""Context rows from CSV / JSON lines / JSON arrays: typed by the filter schema, refused with clear reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import MemoryContext

from skystream.domain.errors import UnknownContextTable
from skystream.services.context import ContextFileError, load_file, load_text, parse_rows, table_for


def test_csv_cells_are_typed_by_the_schema_and_empty_is_null(tmp_path: Path) -> None:
    path = tmp_path / "sherlock_classifications.csv"
    path.write_text("diaObjectId,classification,separationArcsec,classificationReliability,z\n"
                    "11,SN,0.42,1,\n12,AGN,1.5,2,0.03\n")
    store = MemoryContext()
    assert load_file(path, store) == ("sherlock_classifications", 2)
    rows = store.puts[0][1]
    assert rows[0] == {"diaObjectId": 11, "classification": "SN", "separationArcsec": 0.42,
                       "classificationReliability": 1, "z": None}
    assert rows[1]["z"] == 0.03


def test_json_lines_array_and_envelope_all_parse() -> None:
    lines = '{"diaObjectId": 1, "tns_name": "2026a"}\n\n{"diaObjectId": 2, "type": "SN Ia"}\n'
    assert len(parse_rows(lines, "json")) == 2
    assert parse_rows('[{"diaObjectId": 1}]', "json") == [{"diaObjectId": 1}]
    assert parse_rows('{"rows": [{"diaObjectId": 3}]}', "json") == [{"diaObjectId": 3}]
    store = MemoryContext()
    assert load_text("crossmatch_tns", lines, "json", store) == 2


@pytest.mark.parametrize(("table", "text", "fmt", "message"), [
    ("sherlock_classifications", "diaObjectId,clasification\n1,SN\n", "csv", "has no column clasification"),
    ("sherlock_classifications", "diaObjectId,z\n1,high\n", "csv", "row 1, column z: 'high' is not a DOUBLE"),
    ("sherlock_classifications", "diaObjectId,z\n1,0.1,9\n", "csv", "CSV line 2: more cells"),
    ("crossmatch_tns", '{"diaObjectId": 1}\n{"diaObjectId": }\n', "json", "line 2: not valid JSON"),
    ("crossmatch_tns", '{"tns_name": "x"}\n', "json", "row 1: diaObjectId must be an integer"),
    ("crossmatch_tns", '{"diaObjectId": 1.5}\n', "json", "row 1: diaObjectId must be an integer"),
])
def test_bad_rows_are_refused_and_nothing_stored(table: str, text: str, fmt: str, message: str) -> None:
    store = MemoryContext()
    with pytest.raises(ContextFileError, match=message):
        load_text(table, text, fmt, store)
    assert store.puts == []


def test_table_comes_from_the_option_or_the_file_name() -> None:
    assert table_for(Path("x.csv"), "crossmatch_tns") == "crossmatch_tns"
    assert table_for(Path("/d/crossmatch_tns_2026.jsonl"), None) == "crossmatch_tns"
    with pytest.raises(ContextFileError, match="give --table"):
        table_for(Path("rows.csv"), None)
    with pytest.raises(UnknownContextTable, match="unknown context table"):
        table_for(Path("x.csv"), "objects")
