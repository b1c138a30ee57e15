"""SQL functions behave as in MySQL for the cases shown (each expected value is MySQL 8's
answer), through the whole path: check, transpile, run on SQLite."""

from __future__ import annotations

import math
from typing import Any

import pytest

from skystream.filters.batch import BatchRows
from skystream.filters.compiler import FilterQuery, compile_filter
from skystream.filters.engine import SqliteEngine

pytestmark = pytest.mark.unit

ONE_ROW = BatchRows(objects=[{"diaObjectId": 1, "ra": 10.0, "g_psfFlux": 3631e9, "r_psfFlux": None,
                              "latestPairColourBands": "gr"}])

CASES: list[tuple[str, Any]] = [
    ("flux2mag(3631e9)", pytest.approx(0.0, abs=1e-3)),  # 3631 Jy is AB magnitude 0
    ("flux2mag(1000)", pytest.approx(23.9)),
    ("flux2mag(0)", None),
    ("flux2mag(-5)", None),
    ("flux2mag(r_psfFlux)", None),
    ("flux2mag(g_psfFlux)", pytest.approx(0.0, abs=1e-3)),
    ("LOG10(100)", pytest.approx(2.0)),
    ("LOG10(0)", None),
    ("LOG(EXP(1))", pytest.approx(1.0)),
    ("LOG(2, 8)", pytest.approx(3.0)),
    ("LN(-1)", None),
    ("SQRT(16)", pytest.approx(4.0)),
    ("SQRT(-1)", None),
    ("POW(2, 10)", pytest.approx(1024.0)),
    ("POWER(10, -1)", pytest.approx(0.1)),
    ("ABS(-3)", 3),
    ("SIGN(-4.5)", -1),
    ("MOD(7, 3)", 1),
    ("MOD(-7, 3)", -1),
    ("7 % 0", None),
    ("7.5 % 2", pytest.approx(1.5)),
    ("7 / 2", pytest.approx(3.5)),
    ("1 / 0", None),
    ("7 DIV 2", 3),
    ("ROUND(2.5)", 3),
    ("ROUND(-2.5)", -3),
    ("ROUND(1.2345, 2)", pytest.approx(1.23)),
    ("TRUNCATE(1.239, 2)", pytest.approx(1.23)),
    ("FLOOR(-1.5)", -2),
    ("CEIL(1.2)", 2),
    ("GREATEST(1, 5, 3)", 5),
    ("GREATEST(1, NULL)", None),
    ("LEAST(2, 1)", 1),
    ("DEGREES(PI())", pytest.approx(180.0)),
    ("ATAN2(1, 1)", pytest.approx(math.pi / 4)),
    ("IF(1 > 0, 'a', 'b')", "a"),
    ("IF(NULL, 'a', 'b')", "b"),
    ("IFNULL(NULL, 5)", 5),
    ("COALESCE(NULL, NULL, 3)", 3),
    ("NULLIF(1, 1)", None),
    ("CASE WHEN ra > 5 THEN 'east' ELSE 'west' END", "east"),
    ("CONCAT('a', 1, 'b')", "a1b"),
    ("CONCAT('a', NULL)", None),
    ("SUBSTRING('Quadratically', 5)", "ratically"),
    ("SUBSTRING('Quadratically', 5, 6)", "ratica"),
    ("SUBSTRING('Sakila', -3)", "ila"),
    ("SUBSTRING('abc', 0)", ""),
    ("SUBSTR('abc', 2)", "bc"),
    ("LEFT('foobarbar', 5)", "fooba"),
    ("RIGHT('foobarbar', 4)", "rbar"),
    ("UPPER('sn')", "SN"),
    ("LOWER(latestPairColourBands)", "gr"),
    ("LENGTH('text')", 4),
    ("LENGTH('é')", 2),
    ("CHAR_LENGTH('é')", 1),
    ("TRIM('  bar  ')", "bar"),
    ("LOCATE('bar', 'foobarbar')", 4),
    ("LOCATE('bar', 'foobarbar', 5)", 7),
    ("LOCATE('xbar', 'foobar')", 0),
    ("INSTR('foobarbar', 'bar')", 4),
    ("JSON_EXTRACT('{\"a\": {\"b\": [1, 2]}}', '$.a.b[1]')", 2),
    ("JSON_EXTRACT('{\"a\": 1}', '$.x')", None),
    ("JSON_EXTRACT('{\"class\": \"SN\"}', '$.class') = 'SN'", 1),
    ("JSON_EXTRACT('not json', '$.a')", None),
    ("'abc' LIKE 'A%'", 1),
    ("latestPairColourBands = 'GR'", 1),  # column text compares case-insensitively, as MySQL's default collation
    ("CAST('12abc' AS SIGNED)", 12),
    ("ra BETWEEN 10 AND 11", 1),
    ("NULL <=> NULL", 1),
    ("mjdnow()", pytest.approx(61000.0)),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[c[0] for c in CASES])
def test_function_matches_mysql(expression: str, expected: Any) -> None:
    compiled = compile_filter(FilterQuery(sql=f"SELECT {expression} AS v FROM objects"))
    outcome = SqliteEngine(clock=lambda: (61000.0 - 40587.0) * 86400.0).run(ONE_ROW, [("f", compiled)])["f"]
    assert outcome.ok, outcome.error
    assert outcome.rows == [{"v": expected}]
