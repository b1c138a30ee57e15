"""SqliteEngine: one fresh database per batch, a time limit and a row cap per filter, and one
failing filter never stops the others."""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal

import pytest
from filter_corpus.rows import make_batch

from skystream.filters.batch import BatchRows
from skystream.filters.compiler import CompiledFilter, FilterQuery, compile_filter
from skystream.filters.engine import SqliteEngine

pytestmark = pytest.mark.unit


def q(**kw: str) -> CompiledFilter:
    return compile_filter(FilterQuery(**kw))


def test_exploding_cross_join_is_stopped_by_the_time_limit_and_the_others_still_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    batch = make_batch(1000, seed=3)
    bomb = q(sql="SELECT objects.diaObjectId FROM objects, sherlock_classifications, crossmatch_tns "
                 "WHERE objects.ra + sherlock_classifications.separationArcsec + crossmatch_tns.z < -1000")
    before = q(selected="diaObjectId", tables="objects", conditions="ra < 10")
    after = q(selected="diaObjectId", tables="objects", conditions="ra > 350")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)  # every logger's records reach the root
    start = time.perf_counter()
    try:
        out = SqliteEngine(time_limit_s=0.3).run(batch, [("before", before), ("bomb", bomb), ("after", after)])
    finally:
        logging.getLogger().removeHandler(handler)
    assert time.perf_counter() - start < 3.0
    assert out["bomb"].timed_out and not out["bomb"].ok
    assert "time limit" in (out["bomb"].error or "")
    assert 0.3 <= out["bomb"].elapsed_s < 1.5
    assert out["before"].ok and out["after"].ok
    assert {r["diaObjectId"] for r in out["before"].rows} == {o["diaObjectId"] for o in batch.objects if o["ra"] < 10}
    assert {r["diaObjectId"] for r in out["after"].rows} == {o["diaObjectId"] for o in batch.objects if o["ra"] > 350}
    # The engine reports, it does not log: the matcher writes the one line a failed filter gets, with its
    # owner (tests/unit/test_failure_logging.py). Before issue 14 the engine logged it too.
    assert not [r for r in records if r.levelno >= logging.WARNING]
    assert '"FilterTimeouts":[1.0]' in capsys.readouterr().out  # a CloudWatch metric (EMF) counts it


def test_an_erroring_filter_is_reported_and_the_others_still_run() -> None:
    batch = BatchRows(objects=[{"diaObjectId": 1, "ra": 1.0}])
    broken = CompiledFilter(sqlite_sql="SELECT nope FROM objects", mysql_sql="", output_columns=("nope",),
                            tables=frozenset({"objects"}), annotators=frozenset())
    writer = CompiledFilter(sqlite_sql="DELETE FROM objects", mysql_sql="", output_columns=(),
                            tables=frozenset({"objects"}), annotators=frozenset())
    good = q(selected="diaObjectId", tables="objects")
    out = SqliteEngine().run(batch, [("broken", broken), ("writer", writer), ("good", good)])
    assert "no such column" in (out["broken"].error or "")
    assert "readonly" in (out["writer"].error or "")  # the batch database is sealed read-only
    assert out["good"].rows == [{"diaObjectId": 1}]


def test_row_cap_truncates_and_says_so() -> None:
    batch = BatchRows(objects=[{"diaObjectId": i} for i in range(30)])
    out = SqliteEngine(row_cap=10).run(batch, [("all", q(selected="diaObjectId", tables="objects"))])["all"]
    assert len(out.rows) == 10 and out.truncated


def test_default_row_cap_is_1000() -> None:
    batch = BatchRows(objects=[{"diaObjectId": i} for i in range(1500)])
    out = SqliteEngine().run(batch, [("all", q(selected="diaObjectId", tables="objects"))])["all"]
    assert len(out.rows) == 1000 and out.truncated


def test_result_names_follow_mysql() -> None:
    batch = BatchRows(objects=[{"diaObjectId": 5, "ra": 1.5, "decl": -2.0, "g_psfFlux": 1000.0}])
    compiled = q(selected="objects.diaObjectId, objects.ra AS alpha, decl, g_psfFlux / 2, flux2mag(objects.g_psfFlux)",
                 tables="objects")
    rows = SqliteEngine().run(batch, [("f", compiled)])["f"].rows
    assert rows == [{"diaObjectId": 5, "alpha": 1.5, "decl": -2.0, "g_psfFlux / 2": 500.0,
                     "flux2mag(objects.g_psfFlux)": pytest.approx(23.9)}]


def test_select_star_returns_every_objects_column() -> None:
    batch = BatchRows(objects=[{"diaObjectId": 5, "ra": 1.5}])
    compiled = q(sql="SELECT * FROM objects")
    rows = SqliteEngine().run(batch, [("f", compiled)])["f"].rows
    from skystream.features.columns import OBJECT_COLUMN_NAMES
    from skystream.filters.schema import MATCH_TIME_COLUMNS

    # issue 21: then Lasair's objects columns no feature computes (tns_name, timestamp)
    assert tuple(rows[0]) == OBJECT_COLUMN_NAMES + tuple(c.name for c in MATCH_TIME_COLUMNS)
    assert rows[0]["ra"] == 1.5 and rows[0]["decl"] is None


def test_annotator_alias_sees_only_that_annotator() -> None:
    batch = BatchRows(
        objects=[{"diaObjectId": 1}, {"diaObjectId": 2}, {"diaObjectId": 3}],
        annotations=[
            {"annotator": "a", "diaObjectId": 1, "classification": "SN", "classdict": {"p": 0.9}},
            {"annotator": "b", "diaObjectId": 2, "classification": "SN", "classdict": json.dumps({"p": 0.1})},
            {"annotator": "a", "diaObjectId": 3, "classification": "SN", "classdict": {"p": Decimal("0.5")}},
        ],
    )
    compiled = q(selected="objects.diaObjectId, JSON_EXTRACT(a.classdict, '$.p') AS p", tables="objects, annotator:a",
                 conditions="a.classification = 'SN' AND JSON_EXTRACT(a.classdict, '$.p') > 0.6")
    assert compiled.annotators == frozenset({"a"})
    # object 3's classdict came from DynamoDB with a Decimal: it stays a number (0.5 < 0.6)
    assert SqliteEngine().run(batch, [("f", compiled)])["f"].rows == [{"diaObjectId": 1, "p": 0.9}]


def test_dynamodb_decimals_and_nan_load() -> None:
    batch = BatchRows(objects=[{"diaObjectId": Decimal("7"), "ra": Decimal("1.25"), "decl": float("nan")}])
    rows = SqliteEngine().run(batch, [("f", q(selected="diaObjectId, ra, decl", tables="objects"))])["f"].rows
    assert rows == [{"diaObjectId": 7, "ra": 1.25, "decl": None}]


def test_each_batch_sees_only_its_own_rows() -> None:
    engine = SqliteEngine()
    compiled = q(selected="diaObjectId", tables="objects")
    engine.run(BatchRows(objects=[{"diaObjectId": 1}]), [("f", compiled)])
    assert engine.run(BatchRows(objects=[{"diaObjectId": 2}]), [("f", compiled)])["f"].rows == [{"diaObjectId": 2}]


def test_no_filters_no_work() -> None:
    assert SqliteEngine().run(BatchRows(objects=[{"diaObjectId": 1}]), []) == {}


def test_left_join_keeps_objects_without_an_annotation() -> None:
    batch = BatchRows(
        objects=[{"diaObjectId": 1}, {"diaObjectId": 2}, {"diaObjectId": 3}],
        annotations=[{"annotator": "a", "diaObjectId": 1, "classification": "SN"},
                     {"annotator": "b", "diaObjectId": 2, "classification": "AGN"}],
    )
    compiled = q(sql="SELECT objects.diaObjectId, a.classification FROM objects LEFT OUTER JOIN annotations AS a "
                     "ON a.diaObjectId = objects.diaObjectId ORDER BY objects.diaObjectId")
    rows = SqliteEngine().run(batch, [("f", compiled)])["f"].rows
    assert rows == [{"diaObjectId": 1, "classification": "SN"}, {"diaObjectId": 2, "classification": None},
                    {"diaObjectId": 3, "classification": None}]


def test_a_filter_text_is_compiled_once_per_process_and_a_changed_one_again() -> None:
    """The matcher re-reads every active filter when one changes: unchanged text must not be
    checked, transpiled and prepared again."""
    first = q(selected="diaObjectId", tables="objects", conditions="ra < 11.5")
    assert q(selected="diaObjectId", tables="objects", conditions="ra < 11.5") is first
    changed = q(selected="diaObjectId", tables="objects", conditions="ra < 12.5")
    assert changed is not first and "12.5" in changed.sqlite_sql
    assert compile_filter(FilterQuery(selected="diaObjectId", tables="objects", conditions="ra < 11.5"),
                          row_cap=5) is not first
