"""The relay's contract on fakes: copy key/value/headers/timestamp, commit only after every record is
acknowledged, never commit a batch the target refused; and the command line builds the Rubin config."""

from __future__ import annotations

import confluent_kafka
import pytest
from fakes import FakeKafkaClient, FakeKafkaConsumer, FakeKafkaMessage

from skystream.cli import build_parser
from skystream.cli.relay import _source_auth, _target_auth
from skystream.config import settings
from skystream.streams.config import cluster_config
from skystream.streams.relay import Relay, RelayError, RelaySettings


def _settings(batch_size: int = 10) -> RelaySettings:
    return RelaySettings(source={}, source_topics=("lsst-alerts-v11",), target={}, target_topic="alerts",
                         batch_size=batch_size)


def test_a_batch_is_copied_byte_for_byte_then_committed_past_its_last_offset() -> None:
    batch = [
        FakeKafkaMessage("up", 0, 41, b"\x00\x00\x00\x04\x4d\xff", b"k1", [("h", b"\x01")], 1_700_000_000_001),
        FakeKafkaMessage("up", 1, 7, b"v2", None, None, 0),
        FakeKafkaMessage("up", 0, 42, b"v3", b"k3", [("a", b"1"), ("a", b"2")], 1_700_000_000_003),
    ]
    consumer, producer = FakeKafkaConsumer([batch]), FakeKafkaClient()
    stats = Relay(_settings(), consumer=consumer, producer=producer).run(idle_exit_s=0)
    assert stats.produced == stats.committed == 3 and stats.batches == 1
    assert [p["topic"] for p in producer.produced] == ["alerts"] * 3
    first, second, third = producer.produced
    assert (first["key"], first["value"], first["headers"], first["timestamp"]) == (
        b"k1", b"\x00\x00\x00\x04\x4d\xff", [("h", b"\x01")], 1_700_000_000_001)
    assert second["key"] is None and second["headers"] is None and "timestamp" not in second
    assert third["headers"] == [("a", b"1"), ("a", b"2")]  # repeated headers kept, in order
    assert sorted(consumer.commits[0]) == [("up", 0, 43), ("up", 1, 8)]
    assert consumer.closed


def test_a_refused_record_fails_the_batch_and_nothing_is_committed() -> None:
    consumer = FakeKafkaConsumer([[FakeKafkaMessage("up", 0, 0, b"ok"), FakeKafkaMessage("up", 0, 1, b"bad")]])
    relay = Relay(_settings(), consumer=consumer, producer=FakeKafkaClient(fail_on={b"bad"}))
    with pytest.raises(RelayError, match="acknowledged 1 of 2 records"):
        relay.run(idle_exit_s=0)
    assert consumer.commits == []


def test_commit_happens_only_after_the_flush() -> None:
    events: list[str] = []

    class OrderedConsumer(FakeKafkaConsumer):
        def commit(self, offsets: list[confluent_kafka.TopicPartition], asynchronous: bool) -> None:
            events.append("committed")
            super().commit(offsets, asynchronous)

    consumer = OrderedConsumer([[FakeKafkaMessage("up", 0, i, b"v%d" % i) for i in range(3)] for _ in range(2)])
    Relay(_settings(), consumer=consumer, producer=FakeKafkaClient(events=events)).run(idle_exit_s=0)
    assert events == ["flushed", "committed", "flushed", "committed", "flushed"]  # the last: close()


def test_max_records_stops_after_whole_batches() -> None:
    consumer = FakeKafkaConsumer([[FakeKafkaMessage("up", 0, i * 2 + j, b"x") for j in range(2)] for i in range(5)])
    stats = Relay(_settings(batch_size=2), consumer=consumer, producer=FakeKafkaClient()).run(max_records=3)
    assert stats.produced == 4 and len(consumer.commits) == 2


def test_rubin_options_build_sasl_plaintext_scram(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBIN_KAFKA_PASSWORD", "pw")
    monkeypatch.setenv("KAFKA_AUTH", "none")
    settings.cache_clear()
    args = build_parser().parse_args([
        "relay", "--from", "usdf-alert-stream-dev.lsst.cloud:9094", "--topic", "lsst-alerts-v11",
        "--from-username", "skystream", "--from-security-protocol", "SASL_PLAINTEXT", "--to", "127.0.0.1:9092",
    ])
    conf = cluster_config(args.from_bootstrap, _source_auth(args))
    assert conf == {
        "bootstrap.servers": "usdf-alert-stream-dev.lsst.cloud:9094",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "skystream",
        "sasl.password": "pw",
    }
    assert _target_auth(args).mode == "none" and args.topic == ["lsst-alerts-v11"]
    settings.cache_clear()


def test_a_username_without_a_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUBIN_KAFKA_PASSWORD", raising=False)
    args = build_parser().parse_args(["relay", "--from", "h:1", "--topic", "t", "--from-username", "u"])
    with pytest.raises(SystemExit, match="RUBIN_KAFKA_PASSWORD"):
        _source_auth(args)
