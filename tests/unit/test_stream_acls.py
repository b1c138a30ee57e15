"""The ACL bindings derived from the filters and the users holding Kafka credentials (a pure function),
and the plans that move a cluster from what it has to what they say. Each case asserts the exact set."""

from __future__ import annotations

from skystream.domain.filters import StoredFilter
from skystream.domain.stream_access import (
    AclBinding,
    FunctionsAccess,
    Scope,
    acl_bindings,
    kafka_username,
    plan,
    user_of,
)

INTERNAL = ("alerts", "alerts-enriched", "alerts-dlq", "annotations")
FUNCTIONS = FunctionsAccess("User:skystream-functions", INTERNAL)


def kafka_filter(owner: int, name: str, *, public: bool = False, output: str = "kafka_plain",
                 filter_id: str | None = None) -> StoredFilter:
    topic = f"lasair_{owner}{name}" if output.startswith("kafka") else None
    return StoredFilter(filter_id=filter_id or f"{owner}-{name}", owner=owner, name=name, selected="objects.diaObjectId",
                        tables="objects", conditions="", on_alert=True, output=output, public=public, topic=topic,
                        created="", modified="")


def reads(user: int, topic: str) -> AclBinding:
    return AclBinding("TOPIC", topic, "LITERAL", f"User:user-{user}", "READ")


def describes(user: int, topic: str) -> AclBinding:
    return AclBinding("TOPIC", topic, "LITERAL", f"User:user-{user}", "DESCRIBE")


def groups(user: int) -> AclBinding:
    return AclBinding("GROUP", f"user-{user}-", "PREFIXED", f"User:user-{user}", "READ")


def kafka_matches(b: AclBinding, resource_type: str, name: str) -> bool:
    """Whether Kafka would apply binding ``b`` to the resource (LITERAL: the name or '*'; PREFIXED: a prefix)."""
    if b.resource_type != resource_type:
        return False
    return b.name in (name, "*") if b.pattern == "LITERAL" else name.startswith(b.name)


def test_kafka_usernames_are_stable_safe_and_map_back() -> None:
    assert kafka_username(12) == "user-12" and user_of("user-12") == 12
    assert user_of("skystream-functions") is None and user_of("user-12x") is None and user_of("user-") is None
    assert all(c.isalnum() or c == "-" for c in kafka_username(2**62))


def test_a_private_filter_is_read_and_described_by_its_owner_only() -> None:
    f = kafka_filter(1, "mine")
    assert acl_bindings([f], readers=[1, 2]) == {reads(1, "lasair_1mine"), describes(1, "lasair_1mine"),
                                                 groups(1), groups(2)}


def test_an_owner_without_credentials_gets_nothing_and_nobody_else_reads_the_topic() -> None:
    assert acl_bindings([kafka_filter(1, "mine")], readers=[2]) == {groups(2)}


def test_a_public_filter_is_read_by_every_user_with_credentials_one_binding_each() -> None:
    f = kafka_filter(1, "shared", public=True)
    topic = "lasair_1shared"
    assert acl_bindings([f], readers=[1, 2, 3]) == {
        reads(1, topic), describes(1, topic), reads(2, topic), reads(3, topic), groups(1), groups(2), groups(3)}
    # the owner need not hold credentials for others to read it
    assert acl_bindings([f], readers=[3]) == {reads(3, topic), groups(3)}


def test_filters_without_a_topic_give_no_topic_binding() -> None:
    assert acl_bindings([kafka_filter(1, "mail", output="email"), kafka_filter(1, "mute", output="none", public=True)],
                        readers=[1, 2]) == {groups(1), groups(2)}


def test_a_rename_moves_the_bindings_from_the_old_topic_to_the_new_one() -> None:
    before, after = kafka_filter(1, "old", public=True), kafka_filter(1, "new", public=True)
    cluster = set(acl_bindings([before], readers=[1, 2]))
    change = plan(acl_bindings([after], readers=[1, 2]), cluster, Scope.topic("lasair_1old", "lasair_1new"))
    assert set(change.add) == {reads(1, "lasair_1new"), describes(1, "lasair_1new"), reads(2, "lasair_1new")}
    assert set(change.remove) == {reads(1, "lasair_1old"), describes(1, "lasair_1old"), reads(2, "lasair_1old")}


def test_a_delete_removes_exactly_the_topics_bindings() -> None:
    gone, kept = kafka_filter(1, "gone", public=True), kafka_filter(1, "kept")
    cluster = set(acl_bindings([gone, kept], readers=[1, 2]))
    change = plan(acl_bindings([kept], readers=[1, 2]), cluster, Scope.topic("lasair_1gone"))
    assert change.add == ()
    assert set(change.remove) == {reads(1, "lasair_1gone"), describes(1, "lasair_1gone"), reads(2, "lasair_1gone")}


def test_public_to_private_leaves_only_the_owner() -> None:
    public, private = kafka_filter(1, "x", public=True), kafka_filter(1, "x", public=False)
    cluster = set(acl_bindings([public], readers=[1, 2, 3]))
    change = plan(acl_bindings([private], readers=[1, 2, 3]), cluster, Scope.topic("lasair_1x"))
    assert change.add == () and set(change.remove) == {reads(2, "lasair_1x"), reads(3, "lasair_1x")}
    assert acl_bindings([private], readers=[1, 2, 3]) - cluster == set()
    # and back: private to public adds exactly the others' READ
    back = plan(acl_bindings([public], readers=[1, 2, 3]), set(acl_bindings([private], readers=[1, 2, 3])),
                Scope.topic("lasair_1x"))
    assert set(back.add) == {reads(2, "lasair_1x"), reads(3, "lasair_1x")} and back.remove == ()


def test_a_user_id_that_is_a_prefix_of_anothers_grants_nothing_of_the_other() -> None:
    """User 1's names are prefixes of user 12's (lasair_1 / lasair_12, user-1 / user-12)."""
    one, twelve = kafka_filter(1, "2x"), kafka_filter(12, "x2")  # topics lasair_12x and lasair_12x2
    bindings = acl_bindings([one, twelve], readers=[1, 12])
    assert bindings == {reads(1, "lasair_12x"), describes(1, "lasair_12x"), groups(1),
                        reads(12, "lasair_12x2"), describes(12, "lasair_12x2"), groups(12)}
    assert all(b.pattern == "LITERAL" for b in bindings if b.resource_type == "TOPIC")
    user_1 = [b for b in bindings if b.principal == "User:user-1"]
    assert not any(kafka_matches(b, "TOPIC", "lasair_12x2") for b in user_1)
    assert not any(kafka_matches(b, "GROUP", "user-12-laptop") for b in user_1)
    assert any(kafka_matches(b, "GROUP", "user-1-laptop") for b in user_1)


def test_a_removed_user_keeps_no_binding_and_the_plan_removes_all_of_theirs() -> None:
    filters = [kafka_filter(1, "pub", public=True), kafka_filter(2, "own"), kafka_filter(2, "pub2", public=True)]
    cluster = set(acl_bindings(filters, readers=[1, 2, 3]))
    remaining = [f for f in filters if f.owner != 2]  # user 2 and their filters are gone
    wanted = acl_bindings(remaining, readers=[1, 3])
    assert not any(b.principal == "User:user-2" for b in wanted)
    change = plan(wanted, cluster, Scope.user(2))
    assert change.add == ()
    assert set(change.remove) == {reads(2, "lasair_1pub"), reads(2, "lasair_2own"), describes(2, "lasair_2own"),
                                  reads(2, "lasair_2pub2"), describes(2, "lasair_2pub2"), groups(2)}
    # the other users' bindings on user 2's (now deleted) public topic go with the topic, not with the user
    assert {b for b in cluster if b.name == "lasair_2pub2" and b.principal != "User:user-2"} == {
        reads(1, "lasair_2pub2"), reads(3, "lasair_2pub2")}


def test_the_functions_principal_reads_and_writes_the_internal_topics_and_manages_users_topics() -> None:
    who = FUNCTIONS.principal
    assert acl_bindings([], readers=[], functions=FUNCTIONS) == {
        *(AclBinding("TOPIC", t, "LITERAL", who, op) for t in INTERNAL for op in ("READ", "WRITE", "DESCRIBE")),
        *(AclBinding("TOPIC", "lasair_", "PREFIXED", who, op)
          for op in ("CREATE", "DELETE", "WRITE", "READ", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS")),
        AclBinding("GROUP", "*", "LITERAL", who, "READ"),
        *(AclBinding("CLUSTER", "kafka-cluster", "LITERAL", who, op) for op in ("IDEMPOTENT_WRITE", "DESCRIBE", "ALTER")),
    }
    users = acl_bindings([kafka_filter(1, "pub", public=True)], readers=[1, 2], functions=FUNCTIONS)
    # no user may write anything, or touch an internal topic
    assert not any(b.operation != "READ" and b.operation != "DESCRIBE" for b in users if b.principal != who)
    assert not any(kafka_matches(b, "TOPIC", t) for b in users if b.principal != who for t in INTERNAL)


def test_everything_scope_never_touches_bindings_of_other_principals() -> None:
    foreign = {AclBinding("TOPIC", "alerts", "LITERAL", "User:relay", "WRITE"),
               AclBinding("TOPIC", "lasair_1x", "LITERAL", "User:operator", "READ")}
    stale = {reads(4, "lasair_1gone"), AclBinding("TOPIC", "old", "LITERAL", FUNCTIONS.principal, "READ")}
    wanted = acl_bindings([kafka_filter(1, "x")], readers=[1], functions=FUNCTIONS)
    change = plan(wanted, foreign | stale, Scope(everything=True, functions=FUNCTIONS.principal))
    assert set(change.remove) == stale
    assert set(change.add) == set(wanted)
    assert plan(wanted, set(wanted) | foreign, Scope(everything=True, functions=FUNCTIONS.principal)).empty


def test_a_topic_scope_covers_every_principal_on_that_topic_and_nothing_else() -> None:
    cluster = {reads(1, "lasair_1a"), AclBinding("TOPIC", "lasair_1a", "LITERAL", "User:operator", "READ"),
               reads(1, "lasair_1ab"), groups(1)}
    change = plan(frozenset(), cluster, Scope.topic("lasair_1a"))
    assert set(change.remove) == {reads(1, "lasair_1a"),
                                  AclBinding("TOPIC", "lasair_1a", "LITERAL", "User:operator", "READ")}
    assert change.lines() == ["- User:operator READ TOPIC LITERAL lasair_1a", "- User:user-1 READ TOPIC LITERAL lasair_1a"]
