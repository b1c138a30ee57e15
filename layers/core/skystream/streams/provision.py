"""Create skystream's own topics on a Kafka cluster: a deploy step, since topics are not CloudFormation resources.

The topics (``alerts``, ``alerts-enriched``, ``alerts-dlq``, ``annotations``, each with its
partitions and retention) are listed once, in ``infra/template.yaml`` under ``Metadata:
Skystream::KafkaTopics``. The caller reads them from there and passes them in (the command
line through ``skystream.local.template``; the local stack the same way), so nothing here reads
a template and the Lambda layer needs no YAML.

Idempotent: a missing topic is created with the template's partitions, retention and the
replication factor given; a topic that exists is left exactly as it is. Where an existing
topic differs from the template (fewer or more partitions, another retention), the outcome
says so and what to do: this never alters a topic, because adding partitions moves keys to
other partitions (breaking per-object order) and retention is an operator's decision.

Users' ``lasair_*`` topics are not created here: the filter service makes each one when a
Kafka filter is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaException

from skystream.domain.errors import Unavailable
from skystream.streams.admin import TopicAdmin


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the template declares it (name already prefixed with the stack's TopicPrefix)."""

    name: str
    partitions: int
    retention_ms: int


@dataclass(frozen=True)
class TopicOutcome:
    """What provisioning found or did for one topic; ``differences`` is empty when it matches its spec."""

    name: str
    created: bool
    partitions: int
    retention_ms: int | None
    differences: tuple[str, ...] = ()

    def describe(self) -> str:
        state = "created" if self.created else "present"
        retention = "retention not reported" if self.retention_ms is None else f"retention {_hours(self.retention_ms)}"
        line = f"{self.name}: {state}, {self.partitions} partition(s), {retention}"
        return line + "".join(f"\n  differs from the template: {d}" for d in self.differences)


def provision_topics(admin: TopicAdmin, topics: Sequence[TopicSpec], *, replication_factor: int,
                     timeout_s: float = 10.0) -> list[TopicOutcome]:
    """Create the missing ``topics``, then report every one as the cluster has it.

    ``replication_factor`` -1 leaves it to the broker (``default.replication.factor``; 3 on a
    multi-AZ MSK cluster). Raises :class:`Unavailable` when the cluster does not answer.
    """
    try:
        existing = admin.partitions(timeout=timeout_s)
        missing = [t for t in topics if t.name not in existing]
        for topic in missing:
            admin.create([topic.name], partitions=topic.partitions, retention_ms=topic.retention_ms,
                         replication_factor=replication_factor)
        now = admin.partitions(timeout=timeout_s)
        retention = admin.retention_ms([t.name for t in topics])
    except KafkaException as exc:
        raise Unavailable(
            f"the Kafka cluster did not answer while provisioning topics ({exc.args[0]}): check the bootstrap "
            "servers, the auth mode and that this machine can reach the cluster (same VPC, security group)"
        ) from exc
    created = {t.name for t in missing}
    outcomes = []
    for topic in topics:
        partitions, retention_ms = now.get(topic.name, 0), retention.get(topic.name)
        outcomes.append(TopicOutcome(name=topic.name, created=topic.name in created, partitions=partitions,
                                     retention_ms=retention_ms, differences=_differences(topic, partitions, retention_ms)))
    return outcomes


def _differences(spec: TopicSpec, partitions: int, retention_ms: int | None) -> tuple[str, ...]:
    found = []
    if partitions != spec.partitions:
        found.append(f"{partitions} partition(s), the template says {spec.partitions} (left as it is: adding "
                     "partitions reorders keys; `kafka-topics --alter --partitions N` if you mean it)")
    if retention_ms is not None and retention_ms != spec.retention_ms:
        found.append(f"retention {_hours(retention_ms)}, the template says {_hours(spec.retention_ms)} (left as it "
                     f"is; `kafka-configs --alter --add-config retention.ms={spec.retention_ms}` sets it)")
    return tuple(found)


def _hours(ms: int) -> str:
    return "unlimited" if ms < 0 else f"{ms / 3_600_000:g} h"
