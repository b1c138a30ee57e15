"""The Kafka admin adapters against a recording fake of the librdkafka admin client (never a broker: tansu has
no ACL API, and a CreateAcls sent to it aborts librdkafka). What they send, exactly, and how refusals read."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from fakes import RecordingAdminClient

from skystream.domain import stream_access as access
from skystream.domain.errors import Unavailable
from skystream.streams.acls import KafkaAcls, from_kafka, to_kafka
from skystream.streams.scram_users import ITERATIONS, KafkaScramUsers

ANY_FILTER = dict(operation=AclOperation.ANY, permission_type=AclPermissionType.ANY)


def kafka(restype: ResourceType, name: str, pattern: ResourcePatternType, who: str, op: AclOperation,
          permission: AclPermissionType = AclPermissionType.ALLOW, host: str = "*") -> AclBinding:
    return AclBinding(restype, name, pattern, who, host, op, permission)


def test_every_binding_skystream_makes_goes_to_kafka_and_back_unchanged() -> None:
    bindings = access.acl_bindings([], [], functions=access.FunctionsAccess("User:fn", ("alerts",))) | {
        access.AclBinding("TOPIC", "lasair_1x", "LITERAL", "User:user-1", "READ"),
        access.AclBinding("GROUP", "user-1-", "PREFIXED", "User:user-1", "READ")}
    for b in bindings:
        assert from_kafka(to_kafka(b)) == b
    cluster = to_kafka(access.AclBinding("CLUSTER", "kafka-cluster", "LITERAL", "User:fn", "ALTER"))
    assert (cluster.restype, cluster.host, cluster.permission_type) == (ResourceType.BROKER, "*",
                                                                        AclPermissionType.ALLOW)


def test_apply_adds_then_removes_exactly_the_plans_bindings() -> None:
    admin = RecordingAdminClient([kafka(ResourceType.TOPIC, "lasair_1old", ResourcePatternType.LITERAL,
                                        "User:user-1", AclOperation.READ)])
    add = access.AclBinding("TOPIC", "lasair_1new", "LITERAL", "User:user-1", "READ")
    remove = access.AclBinding("TOPIC", "lasair_1old", "LITERAL", "User:user-1", "READ")
    KafkaAcls(admin).apply(access.AclPlan(add=(add,), remove=(remove,)))
    assert [name for name, _ in admin.calls] == ["create_acls", "delete_acls"]
    assert admin.calls[0][1] == [kafka(ResourceType.TOPIC, "lasair_1new", ResourcePatternType.LITERAL,
                                       "User:user-1", AclOperation.READ)]
    assert admin.calls[1][1] == [AclBindingFilter(ResourceType.TOPIC, "lasair_1old", ResourcePatternType.LITERAL,
                                                  "User:user-1", "*", AclOperation.READ, AclPermissionType.ALLOW)]
    assert admin.acls == [to_kafka(add)]
    admin.calls.clear()
    KafkaAcls(admin).apply(access.AclPlan(add=(), remove=()))
    assert admin.calls == []


def test_bindings_asks_per_topic_and_per_principal_and_reads_past_what_is_not_skystreams() -> None:
    mine = kafka(ResourceType.TOPIC, "lasair_1x", ResourcePatternType.LITERAL, "User:user-1", AclOperation.READ)
    others = [
        kafka(ResourceType.TOPIC, "lasair_1x", ResourcePatternType.LITERAL, "User:user-2", AclOperation.READ,
              permission=AclPermissionType.DENY),  # a DENY: not skystream's
        kafka(ResourceType.TOPIC, "lasair_1x", ResourcePatternType.LITERAL, "User:user-3", AclOperation.READ,
              host="10.0.0.1"),  # one host: not skystream's
        kafka(ResourceType.TOPIC, "lasair_1xy", ResourcePatternType.LITERAL, "User:user-1", AclOperation.READ),
        kafka(ResourceType.GROUP, "user-1-", ResourcePatternType.PREFIXED, "User:user-1", AclOperation.READ),
    ]
    admin = RecordingAdminClient([mine, *others])
    found = KafkaAcls(admin).bindings(access.Scope.topic("lasair_1x"))
    assert found == {from_kafka(mine)}
    assert admin.calls == [("describe_acls", AclBindingFilter(ResourceType.TOPIC, "lasair_1x",
                                                              ResourcePatternType.LITERAL, None, None, **ANY_FILTER))]
    admin.calls.clear()
    assert KafkaAcls(admin).bindings(access.Scope.user(1)) == {
        from_kafka(mine), from_kafka(others[2]), from_kafka(others[3])}
    assert admin.calls == [("describe_acls", AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                                              "User:user-1", None, **ANY_FILTER))]
    admin.calls.clear()
    KafkaAcls(admin).bindings(access.Scope(everything=True, functions="User:fn"))
    assert admin.calls == [("describe_acls", AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                                              None, None, **ANY_FILTER))]


@pytest.mark.parametrize(("code", "says"), [
    (KafkaError.SECURITY_DISABLED, "has no authorizer"),
    (KafkaError.CLUSTER_AUTHORIZATION_FAILED, "may not change ACLs"),
    (KafkaError._TIMED_OUT, "did not answer while adding ACLs"),
])
def test_a_refusal_is_unavailable_saying_what_to_do(code: int, says: str) -> None:
    acls = KafkaAcls(RecordingAdminClient(fail=KafkaError(code)))
    with pytest.raises(Unavailable, match=says):
        acls.apply(access.AclPlan(add=(access.AclBinding("TOPIC", "t", "LITERAL", "User:user-1", "READ"),),
                                  remove=()))


def test_scram_users_sends_one_sha512_upsertion_and_a_deletion() -> None:
    admin = RecordingAdminClient()
    users = KafkaScramUsers(admin)
    users.set_password("user-1", "s3cret")
    assert users.remove("user-1") is True
    (first, [upsert]), (second, [delete]) = admin.calls
    assert first == second == "alter_user_scram_credentials"
    assert isinstance(upsert, UserScramCredentialUpsertion) and upsert.user == "user-1"
    assert upsert.scram_credential_info.mechanism == ScramMechanism.SCRAM_SHA_512
    assert upsert.scram_credential_info.iterations == ITERATIONS >= 4096 and upsert.password == b"s3cret"
    assert isinstance(delete, UserScramCredentialDeletion) and delete.mechanism == ScramMechanism.SCRAM_SHA_512


def test_scram_users_removing_a_user_without_a_credential_is_false_and_a_timeout_unavailable() -> None:
    assert KafkaScramUsers(RecordingAdminClient(fail=KafkaError(KafkaError.RESOURCE_NOT_FOUND))).remove("user-9") is False
    with pytest.raises(Unavailable, match="user-9"):
        KafkaScramUsers(RecordingAdminClient(fail=KafkaError(KafkaError._TIMED_OUT))).set_password("user-9", "x")
