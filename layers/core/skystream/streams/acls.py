"""The cluster's ACLs through the Kafka admin API (``describe_acls``, ``create_acls``, ``delete_acls``).

Implements ``skystream.ports.AclAdmin``. Only ALLOW bindings for any host are skystream's
(``skystream.domain.stream_access``); anything else the cluster holds is read past, never changed.
Works on MSK (the functions' SCRAM principal needs CLUSTER ALTER and DESCRIBE; an MSK IAM role
needs ``kafka-cluster:AlterCluster`` and ``DescribeCluster``) and on the local stack, whose front
door keeps ACLs without enforcing them (docs/streams.md). tansu itself has no ACL API: a
CreateAcls sent to it makes librdkafka abort the process, so never point this at a bare tansu.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from skystream.domain import stream_access as access
from skystream.domain.errors import Unavailable
from skystream.streams.admin import admin_client

_RESOURCE = {"TOPIC": ResourceType.TOPIC, "GROUP": ResourceType.GROUP, "CLUSTER": ResourceType.BROKER}
_RESOURCE_NAME = {v: k for k, v in _RESOURCE.items()}
_PATTERN = {"LITERAL": ResourcePatternType.LITERAL, "PREFIXED": ResourcePatternType.PREFIXED}
_PATTERN_NAME = {v: k for k, v in _PATTERN.items()}
_OPERATIONS = {name: getattr(AclOperation, name) for name in
               ("READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
                "IDEMPOTENT_WRITE")}
_OPERATION_NAME = {v: k for k, v in _OPERATIONS.items()}
TIMEOUT_S = 15.0


def to_kafka(b: access.AclBinding) -> AclBinding:
    return AclBinding(_RESOURCE[b.resource_type], b.name, _PATTERN[b.pattern], b.principal, "*",
                      _OPERATIONS[b.operation], AclPermissionType.ALLOW)


def from_kafka(b: Any) -> access.AclBinding | None:
    """The domain binding, or None for one skystream never makes (DENY, a host, an operation it never uses)."""
    if (b.permission_type != AclPermissionType.ALLOW or b.host != "*" or b.restype not in _RESOURCE_NAME
            or b.resource_pattern_type not in _PATTERN_NAME or b.operation not in _OPERATION_NAME):
        return None
    return access.AclBinding(_RESOURCE_NAME[b.restype], b.name, _PATTERN_NAME[b.resource_pattern_type],  # type: ignore[arg-type]
                             b.principal, _OPERATION_NAME[b.operation])  # type: ignore[arg-type]


def _filters(scope: access.Scope) -> list[AclBindingFilter]:
    """The fewest describe filters that return every binding ``scope`` covers (and maybe more)."""
    if scope.everything:
        return [AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                                 AclPermissionType.ANY)]
    return ([AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, None, None, AclOperation.ANY,
                              AclPermissionType.ANY) for topic in sorted(scope.topics)]
            + [AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, who, None, AclOperation.ANY,
                                AclPermissionType.ANY) for who in sorted(scope.principals)])


def _exactly(b: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation,
                            b.permission_type)


class KafkaAcls:
    """``skystream.ports.AclAdmin`` over a librdkafka admin client (the functions' cluster by default)."""

    def __init__(self, client: AdminClient | None = None):
        self._admin = client if client is not None else admin_client()

    def bindings(self, scope: access.Scope) -> set[access.AclBinding]:
        found: set[access.AclBinding] = set()
        for f in _filters(scope):
            try:
                described = self._admin.describe_acls(f, request_timeout=TIMEOUT_S).result()
            except KafkaException as exc:
                raise _unavailable("listing the ACLs", exc) from exc
            found |= {b for b in (from_kafka(k) for k in described) if b is not None and scope.covers(b)}
        return found

    def apply(self, plan: access.AclPlan) -> None:
        """Add first, then remove: a reader never loses access for a moment it should keep."""
        if plan.add:
            self._wait(self._admin.create_acls([to_kafka(b) for b in plan.add], request_timeout=TIMEOUT_S).values(),
                       "adding ACLs")
        if plan.remove:
            filters = [_exactly(to_kafka(b)) for b in plan.remove]
            self._wait(self._admin.delete_acls(filters, request_timeout=TIMEOUT_S).values(), "removing ACLs")

    @staticmethod
    def _wait(futures: Iterable[Any], doing: str) -> None:
        for future in futures:
            try:
                future.result()
            except KafkaException as exc:
                raise _unavailable(doing, exc) from exc


def _unavailable(doing: str, exc: KafkaException) -> Unavailable:
    error = exc.args[0] if exc.args else exc
    name = error.name() if hasattr(error, "name") else ""
    if name == "SECURITY_DISABLED":
        return Unavailable(f"the Kafka cluster has no authorizer, so {doing} is impossible: users' topics would be "
                           "readable by anyone who reaches the cluster. Enable ACLs on it (MSK always has them; "
                           "docs/deploy.md, 'Public access to the streams')")
    if name == "CLUSTER_AUTHORIZATION_FAILED":
        return Unavailable(f"the functions may not change ACLs ({doing}: {error}): give their principal CLUSTER "
                           "ALTER and DESCRIBE (`skystream streams acl-plan --apply` as an administrator)")
    return Unavailable(f"the Kafka cluster did not answer while {doing} ({error}); try again")
