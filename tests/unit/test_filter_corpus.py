"""The filter corpus gives the expected rows on a generated batch (expected rows computed in
plain Python by tests/filter_corpus, never by SQL)."""

from __future__ import annotations

from typing import Any

import pytest
from filter_corpus.corpus import CORPUS, CorpusFilter, expected_rows
from filter_corpus.rows import clock_for, make_batch, with_context

from skystream.filters.batch import BatchRows
from skystream.filters.compiler import FilterQuery, compile_filter
from skystream.filters.engine import FilterOutcome, SqliteEngine

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def batch() -> BatchRows:
    return make_batch(2000, seed=7)


@pytest.fixture(scope="module")
def outcomes(batch: BatchRows) -> dict[Any, FilterOutcome]:
    compiled = [(f.name, compile_filter(FilterQuery(**f.query))) for f in CORPUS]
    return SqliteEngine(clock=lambda: clock_for()).run(batch, compiled)


def _same(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert a.keys() == e.keys()
        for key in e:
            if isinstance(e[key], float):
                assert a[key] == pytest.approx(e[key], rel=1e-9, abs=1e-9), key
            else:
                assert a[key] == e[key], key


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 30
    assert len({f.name for f in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("f", CORPUS, ids=lambda f: f.name)
def test_corpus_filter_gives_expected_rows(f: CorpusFilter, batch: BatchRows, outcomes: dict[Any, FilterOutcome]) -> None:
    outcome = outcomes[f.name]
    assert outcome.ok, outcome.error
    expected = expected_rows(f, batch)
    assert expected, f"{f.name} matches nothing on the test batch: the test would prove nothing"
    assert len(expected) < len(batch.objects), f"{f.name} matches everything"
    actual = outcome.rows
    if f.order is None:
        actual = sorted(actual, key=lambda r: r["diaObjectId"])
        expected = sorted(expected, key=lambda r: r["diaObjectId"])
    _same(actual, expected)


@pytest.fixture(scope="module")
def generated_batch() -> BatchRows:
    """Objects rows computed by the feature code from generated alerts (not random rows)."""
    from skystream.devtools.generator import generate_alerts
    from skystream.features import objects_row

    return with_context([objects_row(a) for a in generate_alerts(300, seed=5)], seed=5)


def test_corpus_on_rows_from_generated_alerts(generated_batch: BatchRows) -> None:
    compiled = [(f.name, compile_filter(FilterQuery(**f.query))) for f in CORPUS]
    outcomes = SqliteEngine(clock=lambda: clock_for()).run(generated_batch, compiled)
    matching = 0
    for f in CORPUS:
        outcome = outcomes[f.name]
        assert outcome.ok, (f.name, outcome.error)
        expected = expected_rows(f, generated_batch)
        actual = outcome.rows
        if f.order is None:
            actual = sorted(actual, key=lambda r: r["diaObjectId"])
            expected = sorted(expected, key=lambda r: r["diaObjectId"])
        _same(actual, expected)
        matching += bool(expected)
    assert matching >= 30, "most corpus filters should match something on generated alerts"
