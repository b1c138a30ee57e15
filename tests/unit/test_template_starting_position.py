"""The triggers of the internal topics start a new consumer group at the oldest record, on AWS
and locally (the local stack reads the same template), so nothing written for the stack is skipped."""

from __future__ import annotations

from pathlib import Path

from skystream.local.template import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
INTERNAL_TOPICS = {"alerts", "alerts-enriched", "annotations"}


def test_every_internal_trigger_starts_a_new_group_at_trim_horizon_by_default() -> None:
    local = load_template(TEMPLATE, parameters={"KafkaAuth": "none"})
    sources = [s for f in local.functions.values() for s in f.kafka_sources]
    assert {t for s in sources for t in s.topics} == INTERNAL_TOPICS
    assert {s.consumer_group_id: s.starting_position for s in sources} == {
        "skystream-ingest": "TRIM_HORIZON", "skystream-matcher": "TRIM_HORIZON", "skystream-annotations": "TRIM_HORIZON",
        "skystream-history": "TRIM_HORIZON"}


def test_an_operator_may_still_choose_latest_for_a_new_stack() -> None:
    local = load_template(TEMPLATE, parameters={"KafkaAuth": "none", "StartingPosition": "LATEST"})
    # ...except the history writer (issue 17), which keeps every record the topic still holds.
    starts = {s.consumer_group_id: s.starting_position for f in local.functions.values() for s in f.kafka_sources}
    assert starts.pop("skystream-history") == "TRIM_HORIZON"
    assert set(starts.values()) == {"LATEST"}
