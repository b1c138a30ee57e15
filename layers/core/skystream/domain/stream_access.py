"""Who may read which Kafka topic: users' Kafka names, and the ACL bindings derived from the filters.

Pure: :func:`acl_bindings` takes the filters and the users holding Kafka credentials and gives
the exact set of ACL bindings the cluster should have; :func:`plan` compares it with what the
cluster has, within a :class:`Scope`, and says what to add and what to remove. The adapter
(``skystream.streams.acls``) applies a plan; ``skystream.services.stream_access`` decides when.

The rules (docs/streams.md, "Who may read a topic"):

- a **private** filter's topic: READ and DESCRIBE for its owner, on the topic's exact name
  (``LITERAL``, never a prefix: ``lasair_1`` is a prefix of every topic of users 10 to 19);
- a **public** filter's topic: the same for its owner, and READ for every other user holding
  Kafka credentials, one binding each. Kafka has no principal for "any authenticated user":
  the wildcard ``User:*`` also matches ``User:ANONYMOUS``, i.e. whoever reaches a plaintext or
  unauthenticated listener, and it would outlive a removed user. A binding per user costs
  (users x public topics) ACLs, thousands at Lasair's scale, which Kafka keeps in memory;
- **consumer groups**: READ on the groups whose id starts with ``<username>-`` (``PREFIXED``; the
  separator keeps user 1's ``user-1-`` from covering user 12's ``user-12-...``);
- the **functions' principal** (when they log in with SCRAM): READ, WRITE and DESCRIBE on the
  internal topics (``alerts``, ``alerts-enriched``, ``alerts-dlq``, ``annotations``); CREATE,
  DELETE, WRITE, DESCRIBE and the configs on users' topics (``PREFIXED lasair_``); READ on every
  consumer group (the triggers' groups are named after the stack); on the cluster,
  IDEMPOTENT_WRITE (their producers are idempotent), DESCRIBE and ALTER (listing and changing ACLs).
  Nobody else may write anything, or read an internal topic.

A user without Kafka credentials has no binding at all, and so does a removed user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from skystream.domain.filters import StoredFilter

ResourceType = Literal["TOPIC", "GROUP", "CLUSTER"]
PatternType = Literal["LITERAL", "PREFIXED"]
Operation = Literal["READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
                    "IDEMPOTENT_WRITE"]

USERS_TOPIC_PREFIX = "lasair_"
CLUSTER_RESOURCE = "kafka-cluster"  # the one name Kafka gives the cluster resource
_USERNAME = re.compile(r"^user-(\d+)$")


def kafka_username(user_id: int) -> str:
    """A user's Kafka (SASL/SCRAM) name: stable (the numeric id never changes, the display name may),
    and Kafka-safe (ASCII letters, digits and ``-``: nothing SCRAM must escape, nothing a shell quotes)."""
    if user_id < 0:
        raise ValueError(f"a user id is not negative: {user_id}")
    return f"user-{int(user_id)}"


def user_of(username: str) -> int | None:
    """The user id behind a Kafka name made by :func:`kafka_username` (None for any other name)."""
    match = _USERNAME.match(username)
    return int(match.group(1)) if match else None


def principal(username: str) -> str:
    return f"User:{username}"


def group_prefix(username: str) -> str:
    """The consumer group ids a user may use start with this (docs/streams.md)."""
    return f"{username}-"


@dataclass(frozen=True, order=True)
class AclBinding:
    """One Kafka ACL: ``principal`` may ``operation`` on the resources ``pattern`` matches (ALLOW, any host)."""

    resource_type: ResourceType
    name: str
    pattern: PatternType
    principal: str
    operation: Operation

    def describe(self) -> str:
        return f"{self.principal} {self.operation} {self.resource_type} {self.pattern} {self.name}"


@dataclass(frozen=True)
class FunctionsAccess:
    """The functions' own principal and the internal topics only they read and write."""

    principal: str
    internal_topics: tuple[str, ...]


def _topic(name: str, who: str, *operations: Operation) -> set[AclBinding]:
    return {AclBinding("TOPIC", name, "LITERAL", who, op) for op in operations}


def acl_bindings(filters: Iterable[StoredFilter], readers: Iterable[int], *,
                 functions: FunctionsAccess | None = None) -> frozenset[AclBinding]:
    """Every ACL binding the cluster should have, given the filters and the users with Kafka credentials."""
    readers = sorted(set(readers))
    wanted: set[AclBinding] = set()
    for reader in readers:
        username = kafka_username(reader)
        wanted.add(AclBinding("GROUP", group_prefix(username), "PREFIXED", principal(username), "READ"))
    reading = set(readers)
    for f in filters:
        if not f.topic:
            continue
        if f.owner in reading:
            wanted |= _topic(f.topic, principal(kafka_username(f.owner)), "READ", "DESCRIBE")
        if f.public:
            for reader in readers:
                if reader != f.owner:
                    wanted |= _topic(f.topic, principal(kafka_username(reader)), "READ")
    if functions is not None:
        who = functions.principal
        for topic in functions.internal_topics:
            wanted |= _topic(topic, who, "READ", "WRITE", "DESCRIBE")
        wanted |= {AclBinding("TOPIC", USERS_TOPIC_PREFIX, "PREFIXED", who, op)
                   for op in ("CREATE", "DELETE", "WRITE", "READ", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS")}
        wanted.add(AclBinding("GROUP", "*", "LITERAL", who, "READ"))
        wanted |= {AclBinding("CLUSTER", CLUSTER_RESOURCE, "LITERAL", who, op)
                   for op in ("IDEMPOTENT_WRITE", "DESCRIBE", "ALTER")}
    return frozenset(wanted)


@dataclass(frozen=True)
class Scope:
    """The part of the cluster's ACLs a change may touch: the LITERAL bindings on ``topics``, whoever they
    are for (a user's topic is skystream's: a stale binding on it is a leak), the bindings of
    ``principals``, or (``everything``) every binding of a skystream principal: users'
    (``User:user-<id>``) and ``functions``. Otherwise, bindings of anyone else (an operator's, the
    relay's own) are never touched."""

    topics: frozenset[str] = frozenset()
    principals: frozenset[str] = frozenset()
    everything: bool = False
    functions: str | None = None

    @classmethod
    def topic(cls, *names: str) -> Scope:
        return cls(topics=frozenset(names))

    @classmethod
    def user(cls, user_id: int) -> Scope:
        return cls(principals=frozenset({principal(kafka_username(user_id))}))

    def covers(self, b: AclBinding) -> bool:
        if self.everything:
            name = b.principal.removeprefix("User:")
            return (b.principal.startswith("User:") and user_of(name) is not None) or b.principal == self.functions
        return ((b.resource_type == "TOPIC" and b.pattern == "LITERAL" and b.name in self.topics)
                or b.principal in self.principals)


@dataclass(frozen=True)
class AclPlan:
    """What to change so the cluster has the wanted bindings (within one scope)."""

    add: tuple[AclBinding, ...]
    remove: tuple[AclBinding, ...]

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove

    def lines(self) -> list[str]:
        return [f"+ {b.describe()}" for b in self.add] + [f"- {b.describe()}" for b in self.remove]


def plan(wanted: Iterable[AclBinding], current: Iterable[AclBinding], scope: Scope) -> AclPlan:
    """The bindings to add and to remove so that, within ``scope``, the cluster has exactly ``wanted``."""
    want = {b for b in wanted if scope.covers(b)}
    have = {b for b in current if scope.covers(b)}
    return AclPlan(add=tuple(sorted(want - have)), remove=tuple(sorted(have - want)))
