"""Lasair's documented example filters (quickstart, make_filter, cookbook, porting guide) run unchanged.

The texts are Lasair's, verbatim (tests/lasair_reference/lasair_doc_filters.json, with their source
and commit). Each runs over the filter corpus's objects (tests/filter_corpus) plus a few planted
objects that are what the example says it finds; the batch is built the way the matcher builds it
(services.joins.Joins over the context and annotation ports), so ``objects.tns_name`` comes from the
crossmatch_tns rows at match time. The expected rows are computed in plain Python from the same
rows, never by SQL. Examples Lasair-LSST itself refuses (Lasair-ZTF names, a renamed column) are
refused here too, with a hint naming the Lasair-LSST column; the example on a watchlist compiles unchanged.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakes import MemoryAnnotations, MemoryContext, no_watchlists, no_watchmaps
from filter_corpus.corpus import Ctx, contexts, eq_ci, gt, lt
from filter_corpus.rows import NOW_MJD, clock_for, make_batch, object_row

from skystream.domain.errors import FilterRejected
from skystream.filters.batch import BatchRows
from skystream.filters.compiler import FilterQuery, compile_filter
from skystream.filters.engine import SqliteEngine
from skystream.services.joins import Joins

pytestmark = pytest.mark.unit

DATA = json.loads((Path(__file__).resolve().parents[1] / "lasair_reference" / "lasair_doc_filters.json").read_text())
BLOCKS: dict[str, str] = DATA["blocks"]
EXAMPLES: dict[str, dict[str, Any]] = {e["id"]: e for e in DATA["examples"]}
PLANTED = 9_000_000_000_000


def query_of(example: dict[str, Any]) -> FilterQuery:
    """The three boxes of Lasair's filter form, filled with the doc's blocks as they are."""
    if "form" in example:  # a block written as "SELECT\n<selected>\nWHERE\n<conditions>"
        head, _, conditions = BLOCKS[example["form"]].partition("\nWHERE\n")
        selected = head.removeprefix("SELECT\n")
    else:
        selected = example.get("selected_text") or "\n".join(BLOCKS[b] for b in example["selected"])
        conditions = "\n".join(BLOCKS[b] for b in example["conditions"])
    return FilterQuery(selected=selected, tables=example["tables"], conditions=conditions)


# -- the objects the examples are about --------------------------------------------------------------


def planted() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """(objects, context rows, annotations): one object that is what each runnable example finds."""
    rng = random.Random(21)

    def obj(n: int, **values: Any) -> dict[str, Any]:
        row = object_row(rng, PLANTED + n)
        row.update(values)
        return row

    recent = {"lastDiaSourceMjdTai": NOW_MJD - 1.0, "firstDiaSourceMjdTai": NOW_MJD - 20.0}
    objects = [
        obj(1, **recent, g_psfFlux=150_000.0, nDiaSources=5),  # Lasair's front page
        obj(2, g_psfFlux=350_000.0),  # a bright star
        obj(3),  # fastfinder says absolute r magnitude -19.5
        obj(4),  # TNS SN II
        obj(5, lastDiaSourceMjdTai=NOW_MJD - 30.0, jump1=8.0, nDiaSources=40),  # an outburst
        obj(6, **recent, BBBRiseRate=0.5, latestPairColourTemp=15.0, penultimatePairColourTemp=12.0,
            absMag=-20.0, g_psfFlux=120_000.0),  # a TDE candidate
        obj(7, nDiaSources=3, decl=0.0, g_latestMJD=NOW_MJD - 2.0, r_psfFlux=60_000.0, r_psfFluxSigma=20_000.0,
            BBBRiseRate=0.3),  # the ported AGN
    ]
    sherlock = [{"diaObjectId": PLANTED + 1, "classification": "SN"},
                {"diaObjectId": PLANTED + 6, "classification": "NT"},
                {"diaObjectId": PLANTED + 7, "classification": "AGN"}]
    tns = [{"diaObjectId": PLANTED + 4, "tns_name": "2026snii", "tns_prefix": "SN", "type": "SN II"}]
    classdict = {"lsst-g": {}, "lsst-r": {"absolute_peak_mag_val": -19.5, "absolute_peak_mag_err": 0.1}}
    annotations = [{"annotator": "fastfinder", "diaObjectId": PLANTED + 3, "classification": "SN",
                    "classdict": json.dumps(classdict), "version": "1", "explanation": "", "url": None,
                    "timestamp": "2026-01-01 00:00:00"}]
    return objects, {"sherlock_classifications": sherlock, "crossmatch_tns": tns}, annotations


@pytest.fixture(scope="module")
def truth() -> BatchRows:
    """Every row: the corpus's objects and their context, and the planted objects and theirs."""
    corpus = make_batch(900, seed=21)  # under the 1000-row cap: cookbook_tns_name selects them all
    objects, context, annotations = planted()
    return BatchRows(objects=corpus.objects + objects,
                     sherlock_classifications=corpus.sherlock_classifications + context["sherlock_classifications"],
                     crossmatch_tns=corpus.crossmatch_tns + context["crossmatch_tns"],
                     annotations=corpus.annotations + annotations)


def run(example: FilterQuery, truth: BatchRows) -> list[dict[str, Any]]:
    """Compile, build the batch as the matcher does (Joins over the ports), run on the engine."""
    compiled = compile_filter(example)
    joins = Joins(annotations=MemoryAnnotations(truth.annotations),
                  context=MemoryContext({"sherlock_classifications": truth.sherlock_classifications,
                                         "crossmatch_tns": truth.crossmatch_tns}),
                  watchlists=no_watchlists(), watchmaps=no_watchmaps())
    batch = joins.build(truth.objects, [compiled])
    outcome = SqliteEngine(clock=clock_for).run(batch, [("f", compiled)])["f"]
    assert outcome.ok, outcome.error
    assert not outcome.truncated
    return outcome.rows


# -- what each example says it finds, in plain Python --------------------------------------------------


def _fast_riser(c: Ctx) -> bool:
    o = c.o
    return (NOW_MJD - o["lastDiaSourceMjdTai"] < 7 and NOW_MJD - o["firstDiaSourceMjdTai"] < 30
            and gt(o["BBBRiseRate"], 0.2))


def _in(value: Any, *choices: str) -> bool:
    return any(eq_ci(value, choice) for choice in choices)


def _abs_r(c: Ctx) -> Any:
    return json.loads(c.a["fastfinder"]["classdict"]).get("lsst-r", {}).get("absolute_peak_mag_val")


Finds = tuple[frozenset[str], Callable[[Ctx], bool], int | None]
# id -> (joined tables, predicate, the planted object it must find)
FINDS: dict[str, Finds] = {
    "quickstart_front_page": (frozenset({"sherlock"}), lambda c: (
        NOW_MJD - c.o["lastDiaSourceMjdTai"] < 7 and (gt(c.o["g_psfFlux"], 100000) or gt(c.o["r_psfFlux"], 100000))
        and c.o["nDiaSources"] > 1 and _in(c.s["classification"], "SN", "NT", "CV", "AGN")), 1),
    "make_filter_bright": (frozenset(), lambda c: gt(c.o["g_psfFlux"], 200000), 2),
    "make_filter_bright_latest_first": (frozenset(), lambda c: gt(c.o["g_psfFlux"], 200000), 2),
    "cookbook_tns_sn_ii": (frozenset({"tns"}), lambda c: eq_ci(c.t["type"], "SN II"), 4),
    "cookbook_tns_types": (frozenset({"tns"}), lambda c: _in(c.t["type"], "SN II", "AGN"), 4),
    "cookbook_tns_name": (frozenset(), lambda c: True, 4),
    "cookbook_gaia_outbursts": (frozenset(), lambda c: (
        c.o["lastDiaSourceMjdTai"] > NOW_MJD - 365 and gt(c.o["jump1"], 5) and c.o["nDiaSources"] > 10), 5),
    "cookbook_fast_riser": (frozenset(), _fast_riser, 6),
    "cookbook_tde_steps": (frozenset({"sherlock"}), lambda c: (
        _fast_riser(c) and gt(c.o["latestPairColourTemp"], 10) and gt(c.o["penultimatePairColourTemp"], 10)
        and _in(c.s["classification"], "SN", "NT") and lt(c.o["absMag"], -19) and gt(c.o["g_psfFlux"], 100000)), 6),
    "porting_lsst": (frozenset({"sherlock"}), lambda c: (
        eq_ci(c.s["classification"], "AGN") and c.o["nDiaSources"] >= 1 and lt(c.o["decl"], 10)
        and gt(c.o["g_latestMJD"], NOW_MJD - 7) and (gt(c.o["r_psfFlux"], 50000) or gt(c.o["g_psfFlux"], 50000))
        and gt(c.o["r_psfFluxSigma"], 10000) and gt(c.o["BBBRiseRate"], 0.2)), 7),
}
ORDERED = {"make_filter_bright_latest_first", "cookbook_tns_sn_ii"}  # ORDER BY lastDiaSourceMjdTai DESC
RUNNABLE = [k for k, e in EXAMPLES.items() if "refused" not in e and "watchlist" not in e]
ON_WATCHLISTS = [k for k, e in EXAMPLES.items() if "watchlist" in e]
REFUSED = [k for k, e in EXAMPLES.items() if "refused" in e]


def test_every_runnable_example_says_what_it_finds() -> None:
    assert sorted(FINDS) == sorted(RUNNABLE)
    assert {"quickstart", "make_filter", "cookbook", "porting"} == {b.split("#")[0] for b in BLOCKS}


@pytest.mark.parametrize("name", RUNNABLE)
def test_the_example_runs_unchanged_and_finds_what_it_says(name: str, truth: BatchRows) -> None:
    needs, match, planted_n = FINDS[name]
    rows = run(query_of(EXAMPLES[name]), truth)
    expected = [c for c in contexts(truth, needs) if match(c)]
    if name in ORDERED:
        expected.sort(key=lambda c: c.o["lastDiaSourceMjdTai"], reverse=True)
        assert [r["diaObjectId"] for r in rows] == [c.o["diaObjectId"] for c in expected]
    else:
        assert sorted(r["diaObjectId"] for r in rows) == sorted(c.o["diaObjectId"] for c in expected)
    assert planted_n is not None and PLANTED + planted_n in {r["diaObjectId"] for r in rows}, "the example's object"
    assert len(rows) < len(truth.objects) or name == "cookbook_tns_name"


def test_quickstart_names_its_columns_as_lasair_does(truth: BatchRows) -> None:
    rows = run(query_of(EXAMPLES["quickstart_front_page"]), truth)
    front = next(r for r in rows if r["diaObjectId"] == PLANTED + 1)
    assert set(front) == {"diaObjectId", "ra", "decl", "age", "class"}
    assert front["class"] == "SN" and front["age"] == pytest.approx(1.0)


def test_objects_tns_name_is_the_tns_name_or_null(truth: BatchRows) -> None:
    rows = {r["diaObjectId"]: r["tns_name"] for r in run(query_of(EXAMPLES["cookbook_tns_name"]), truth)}
    names = {t["diaObjectId"]: t["tns_name"] for t in truth.crossmatch_tns}
    assert rows == {o["diaObjectId"]: names.get(o["diaObjectId"]) for o in truth.objects}
    assert rows[PLANTED + 4] == "2026snii" and sum(v is not None for v in rows.values()) == len(names)


def test_the_cookbook_comments_are_dropped_not_run(truth: BatchRows) -> None:
    """The fast riser's three '# ...' comments: the same rows as the conditions without them."""
    example = query_of(EXAMPLES["cookbook_fast_riser"])
    assert "# must be diaSource in last 7 days" in (example.conditions or "")
    stripped = "\n".join(line.split("#")[0] for line in (example.conditions or "").splitlines())
    assert run(example, truth) == run(example.model_copy(update={"conditions": stripped}), truth)


def test_the_porting_guides_objects_ext_is_the_objects_row(truth: BatchRows) -> None:
    example = query_of(EXAMPLES["porting_lsst"])
    assert "objects-ext.r_psfFluxSigma" in (example.conditions or "")
    for spelling in ("objects_ext.r_psfFluxSigma", "objects.r_psfFluxSigma"):
        same = example.model_copy(update={"conditions": (example.conditions or "").replace(
            "objects-ext.r_psfFluxSigma", spelling)})
        assert run(same, truth) == run(example, truth)


@pytest.mark.parametrize("name", ON_WATCHLISTS)
def test_examples_on_a_watchlist_compile_unchanged_joining_its_hits(name: str) -> None:
    """Issue 19: watchlist:N joins watchlist_hits restricted to watchlist N (the hits are tested in test_watchlist_lists)."""
    compiled = compile_filter(query_of(EXAMPLES[name]))
    assert compiled.watchlists == {EXAMPLES[name]["watchlist"]}
    assert f"watchlist_hits.wl_id IN ({EXAMPLES[name]['watchlist']})" in compiled.mysql_sql


@pytest.mark.parametrize("name", REFUSED)
def test_examples_lasair_lsst_refuses_too_are_refused_with_the_lasair_lsst_name(name: str) -> None:
    example = EXAMPLES[name]
    with pytest.raises(FilterRejected) as info:
        compile_filter(query_of(example))
    assert example["refused"] in str(info.value)
    assert example.get("hint", "") in str(info.value)


def test_the_make_filter_annotator_example_runs_with_the_lasair_lsst_id_column(truth: BatchRows) -> None:
    """With objectId (Lasair-ZTF) written diaObjectId, as Lasair-LSST needs: JSON_EXTRACT of '$.lsst-r....'"""
    example = query_of(EXAMPLES["make_filter_fastfinder"])
    fixed = example.model_copy(update={"selected": (example.selected or "").replace("objectId", "diaObjectId")})
    rows = run(fixed, truth)
    expected = [c for c in contexts(truth, frozenset({"fastfinder"})) if lt(_abs_r(c), -19)]
    assert [r["diaObjectId"] for r in rows] == [c.o["diaObjectId"] for c in expected] == [PLANTED + 3]
    assert rows[0]["absrmag"] == -19.5
