"""`skystream topics provision`, the deploy step that creates the stack's own topics on a real cluster.

Run against the session's tansu broker with a fresh TopicPrefix per test. What the cluster holds
afterwards is read with a plain confluent-kafka AdminClient, and what it should hold is read from
infra/template.yaml directly, so neither side of the check is the code under test.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from skystream.cli import main
from skystream.local.handlers import template_path
from skystream.local.kafka_config import client_config
from skystream.local.processes import free_port
from skystream.local.template import load_yaml
from skystream.local.testing import EphemeralStack


def _declared() -> list[dict[str, Any]]:
    return load_yaml(template_path())["Metadata"]["Skystream::KafkaTopics"]


def _on_cluster(bootstrap: str, prefix: str) -> dict[str, tuple[int, int | None]]:
    """name -> (partitions, retention.ms) of the topics starting with ``prefix``."""
    admin = AdminClient(client_config(bootstrap))
    topics = {n: len(t.partitions) for n, t in admin.list_topics(timeout=10).topics.items() if n.startswith(prefix)}
    found = {}
    for resource, future in admin.describe_configs([ConfigResource("topic", n) for n in topics]).items():
        entry = future.result().get("retention.ms")
        found[resource.name] = (topics[resource.name], int(entry.value) if entry is not None else None)
    return found


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}-"


def test_provision_creates_the_templates_topics_with_partitions_and_retention(
        ephemeral_stack: EphemeralStack, prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "provision", "--prefix", prefix, "--bootstrap", ephemeral_stack.bootstrap]) == 0
    expected = {prefix + t["Name"]: (int(t["Partitions"]), int(t["RetentionHours"]) * 3_600_000) for t in _declared()}
    assert len(expected) == 4
    assert _on_cluster(ephemeral_stack.bootstrap, prefix) == expected
    out = capsys.readouterr().out
    assert "4 created, 0 already present" in out
    assert f"{prefix}alerts-dlq: created, 1 partition(s), retention 336 h" in out


def test_provision_again_changes_nothing_and_reports_what_differs(
        ephemeral_stack: EphemeralStack, prefix: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # An operator made the alerts topic by hand, with 2 partitions and half a day of retention.
    admin = AdminClient(ephemeral_stack.client_config())
    futures = admin.create_topics([NewTopic(f"{prefix}alerts", num_partitions=2, replication_factor=-1,
                                            config={"retention.ms": str(12 * 3_600_000)})])
    for future in futures.values():
        future.result()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", ephemeral_stack.bootstrap)  # the variables the functions use
    # (KAFKA_AUTH=scram, KAFKA_SCRAM_SECRET_ARN, KAFKA_SECURITY_PROTOCOL: the stack's, already set)
    assert main(["topics", "provision", "--prefix", prefix]) == 0
    first = _on_cluster(ephemeral_stack.bootstrap, prefix)
    out = capsys.readouterr().out
    assert "3 created, 1 already present, 1 differ from the template (left as they are)" in out
    assert first[f"{prefix}alerts"] == (2, 12 * 3_600_000)  # never altered
    assert "2 partition(s), the template says 4" in out and "retention 12 h, the template says 24 h" in out

    assert main(["topics", "provision", "--prefix", prefix]) == 0
    assert "0 created, 4 already present" in capsys.readouterr().out
    assert _on_cluster(ephemeral_stack.bootstrap, prefix) == first


def test_provision_without_a_cluster_says_which_variable_to_set(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert main(["topics", "provision", "--prefix", "x-"]) == 1
    err = capsys.readouterr().err
    assert "--bootstrap" in err and "KAFKA_BOOTSTRAP_SERVERS" in err


def test_provision_against_a_silent_cluster_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    closed = f"127.0.0.1:{free_port()}"
    assert main(["topics", "provision", "--bootstrap", closed, "--timeout", "2"]) == 1
    err = capsys.readouterr().err
    assert "the Kafka cluster did not answer" in err and "bootstrap servers" in err
