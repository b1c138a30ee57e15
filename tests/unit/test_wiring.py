"""The composition root keeps one of each service per process and settings, and forgets them on ``reset``;
the output strategies cover every output kind a filter can have."""

from __future__ import annotations

from typing import get_args

import pytest
from fakes import MemoryDigests, matcher

from skystream import wiring
from skystream.config import settings
from skystream.domain.filters import Output, StoredFilter
from skystream.domain.matches import FilterResult
from skystream.domain.objects import ObjectContext
from skystream.outputs.base import COUNT_ONLY, MatchedBatch, Outputs
from skystream.outputs.email import EmailOutput


def test_a_service_is_built_once_per_process_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    first = wiring.users()
    assert wiring.users() is first and first.table == settings().users_table
    monkeypatch.setenv("USERS_TABLE", "another-users")
    assert wiring.users() is first  # the settings are read once per process...
    settings.cache_clear()
    moved = wiring.users()  # ...until they are re-read: then the service follows them
    assert moved is not first and moved.table == "another-users"


def test_reset_builds_afresh() -> None:
    first = wiring.objects()
    wiring.reset()
    assert wiring.objects() is not first


def test_every_output_kind_has_a_strategy_and_kafka_kinds_share_one() -> None:
    kafka, email = object(), object()
    outputs = Outputs.of(kafka=kafka, email=email)  # type: ignore[arg-type]
    kinds = get_args(Output)
    assert {kind: outputs.strategy(kind) for kind in kinds} == {
        "none": COUNT_ONLY, "email": email, "kafka_plain": kafka, "kafka_lite": kafka, "kafka_full": kafka}
    with pytest.raises(ValueError, match="no output strategy for output 'webhook'"):
        outputs.strategy("webhook")  # type: ignore[arg-type]


def test_a_new_output_is_one_strategy_beside_the_others() -> None:
    """What a webhook output would be: a strategy registered for its kind; the matcher needs no change."""
    delivered: list[tuple[str, list[int]]] = []

    class Webhook:
        def start(self, batch: MatchedBatch) -> Webhook:
            return self

        def deliver(self, f: StoredFilter, rows: list[dict]) -> FilterResult:
            delivered.append((f.filter_id, [r["diaObjectId"] for r in rows]))
            return FilterResult(matched=len(rows))

        def finish(self) -> None:
            delivered.append(("finished", []))

    plain = matcher()
    plain.outputs = Outputs({"email": EmailOutput(MemoryDigests()), "kafka_plain": Webhook()})
    f = StoredFilter(filter_id="w", owner=1, name="w", selected="objects.diaObjectId", tables="objects",
                     output="kafka_plain", on_alert=True, topic="lasair_1w", created="t", modified="t")
    report = plain.run_and_deliver([ObjectContext(row={"diaObjectId": 5}, lite={})], [f], trigger="alert")
    assert delivered == [("w", [5]), ("finished", [])] and report.matched == 1
