"""The event the runner builds is the event Lambda sends: powertools parses it, and it round-trips."""

from __future__ import annotations

import base64

import pytest
from aws_lambda_powertools.utilities.data_classes import KafkaEvent
from aws_lambda_powertools.utilities.parser.models import KafkaMskEventModel, KafkaSelfManagedEventModel

from skystream.domain.records import KafkaRecord
from skystream.streams.lambda_event import build_kafka_event, records_from_event

RECORDS = [
    KafkaRecord("alerts", 0, 7, b'{"a": 1}', key=b"170", headers={"schema": b"11.1"}, timestamp_ms=1_700_000_000_000),
    KafkaRecord("alerts", 0, 8, b"\x00\x00\x00\x04L\x01\x02", key=None, timestamp_ms=1_700_000_000_500),
    KafkaRecord("alerts", 3, 2, b"x", key=b"9", headers={"a": b"", "b": b"\xff"}, timestamp_ms=1_700_000_001_000),
]


def test_event_groups_records_by_topic_partition_with_base64_payloads() -> None:
    event = build_kafka_event(RECORDS, bootstrap_servers="127.0.0.1:9092")
    assert event["eventSource"] == "aws:kafka"
    assert event["eventSourceArn"].startswith("arn:aws:kafka:")
    assert set(event["records"]) == {"alerts-0", "alerts-3"}
    first = event["records"]["alerts-0"][0]
    assert base64.b64decode(first["value"]) == b'{"a": 1}'
    assert base64.b64decode(first["key"]) == b"170"
    assert first["headers"] == [{"schema": [49, 49, 46, 49]}]
    assert first["timestampType"] == "CREATE_TIME"
    assert "key" not in event["records"]["alerts-0"][1]


def test_powertools_kafka_event_data_class_reads_it() -> None:
    parsed = KafkaEvent(build_kafka_event(RECORDS, bootstrap_servers="a:1,b:2"))
    assert parsed.event_source == "aws:kafka"
    assert parsed.decoded_bootstrap_servers == ["a:1", "b:2"]
    values = [r.decoded_value for r in parsed.records]
    assert values == [r.value for r in RECORDS]
    assert [r.decoded_headers for r in parsed.records][2] == {"a": b"", "b": b"\xff"}


def test_powertools_msk_model_validates_it() -> None:
    json_records = [r for r in RECORDS if r.value.startswith(b"{") or r.value == b"x"]
    model = KafkaMskEventModel.model_validate(build_kafka_event(json_records, bootstrap_servers="127.0.0.1:9092"))
    assert model.records["alerts-0"][0].offset == 7
    assert model.records["alerts-0"][0].key == b"170"
    assert model.records["alerts-3"][0].headers == [{"a": b""}, {"b": b"\xff"}]


def test_self_managed_event_has_no_arn_and_validates() -> None:
    event = build_kafka_event(RECORDS[:1], bootstrap_servers="h:1", event_source="SelfManagedKafka")
    assert "eventSourceArn" not in event
    assert KafkaSelfManagedEventModel.model_validate(event).eventSource == "SelfManagedKafka"


def test_records_round_trip_through_the_event() -> None:
    assert records_from_event(build_kafka_event(RECORDS, bootstrap_servers="h:1")) == RECORDS


@pytest.mark.parametrize("bad", [{}, {"records": {}}])
def test_an_event_without_records_yields_none(bad: dict) -> None:
    assert records_from_event({"eventSource": "aws:kafka", "bootstrapServers": "h:1", **bad}) == []
