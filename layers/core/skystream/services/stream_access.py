"""Users' access to their streams: Kafka credentials, and the ACLs that follow the filters.

Credentials (``POST /streams/credentials``, ``skystream users kafka-credentials``): a user gets a
SCRAM-SHA-512 username (``user-<id>``, :func:`~skystream.domain.stream_access.kafka_username`) and
a fresh random password, shown once and kept by no one but the cluster's credential store
(an MSK secret, or the cluster itself). Issuing again replaces the password: the old one stops
working. Withdrawing removes the user's ACLs, then the credential (the order AWS advises: a
removed secret does not close open connections, a removed ACL refuses them at their next request).

ACLs (docs/streams.md, "Who may read a topic") are computed by the pure
:func:`~skystream.domain.stream_access.acl_bindings` and applied as a difference within a scope
(one topic, one user, or all of skystream's principals), so a change never touches more than
what it is about. A filter's topic never exists without its ACLs: :meth:`StreamAccess.grant` runs
before the topic is created and :meth:`StreamAccess.revoke` after it is deleted
(``skystream.services.filters``); the cluster refuses what no ACL allows
(``allow.everyone.if.no.acl.found=false``), so the window between is closed, not open.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from skystream.domain.errors import NotFound
from skystream.domain.filters import StoredFilter
from skystream.domain.stream_access import (
    AclPlan,
    FunctionsAccess,
    Scope,
    acl_bindings,
    group_prefix,
    kafka_username,
    plan,
)
from skystream.domain.users import User
from skystream.ports import AclAdmin, FilterCatalog, ScramUsers, StreamReaders

log = Logger(child=True)

MECHANISM = "SCRAM-SHA-512"
PASSWORD_BYTES = 32  # 256 random bits, 43 URL-safe characters


@dataclass(frozen=True)
class StreamEndpoint:
    """Where and how users connect: shown with their credentials."""

    bootstrap_servers: str
    security_protocol: str  # SASL_SSL on AWS; SASL_PLAINTEXT on the local stack (no TLS on loopback)


@dataclass(frozen=True)
class KafkaCredentials:
    """A user's Kafka login, as shown once. The password is never printed by ``repr`` or logged."""

    username: str
    password: str = field(repr=False)
    consumer_group_prefix: str
    mechanism: str = MECHANISM


class StreamAccess:
    """``filters`` say what exists, ``readers`` who holds credentials, ``acls`` and ``users`` are the cluster's
    ACLs and credential store; ``functions`` is the functions' own principal (None when they are not an
    ACL principal: MSK IAM clients are authorized by IAM policies instead)."""

    def __init__(self, *, filters: FilterCatalog, readers: StreamReaders, acls: AclAdmin, users: ScramUsers,
                 functions: FunctionsAccess | None):
        self.filters = filters
        self.readers = readers
        self.acls = acls
        self.users = users
        self.functions = functions

    # -- the filter lifecycle (skystream.ports.TopicAccess) -----------------------------------------

    def grant(self, f: StoredFilter) -> None:
        if not f.topic:
            return
        readers = self.readers.readers() if f.public else [r for r in [f.owner] if self.readers.is_reader(r)]
        self._apply(acl_bindings([f], readers), Scope.topic(f.topic))

    def revoke(self, topic: str) -> None:
        self._apply(frozenset(), Scope.topic(topic))

    # -- credentials --------------------------------------------------------------------------------

    def issue(self, user: User) -> KafkaCredentials:
        """New credentials for ``user`` (replacing any): their ACLs first, then the password."""
        username = kafka_username(user.user_id)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        self.readers.add_reader(user.user_id, username)
        self._sync_user(user.user_id)
        self.users.set_password(username, password)
        log.info("Kafka credentials issued", extra={"user_id": user.user_id, "kafka_username": username})
        return KafkaCredentials(username=username, password=password, consumer_group_prefix=group_prefix(username))

    def withdraw(self, user_id: int) -> str:
        """Remove a user's ACLs and credential; returns the username. NotFound when they had none."""
        username = kafka_username(user_id)
        was_reader = self.readers.remove_reader(user_id)
        self._sync_user(user_id)
        had_credential = self.users.remove(username)
        if not (was_reader or had_credential):
            raise NotFound(f"user {user_id} holds no Kafka credentials; POST /streams/credentials issues them")
        log.info("Kafka credentials withdrawn", extra={"user_id": user_id, "kafka_username": username})
        return username

    def has_credentials(self, user_id: int) -> bool:
        return self.readers.is_reader(user_id)

    # -- the whole picture --------------------------------------------------------------------------

    def plan(self) -> AclPlan:
        """Every change that would make the cluster's skystream ACLs what the filters and users say."""
        scope = self._everything()
        wanted = acl_bindings(self.filters.list_all(), self.readers.readers(), functions=self.functions)
        return plan(wanted, self.acls.bindings(scope), scope)

    def apply(self, changes: AclPlan) -> None:
        self.acls.apply(changes)

    # -- internals ----------------------------------------------------------------------------------

    def _everything(self) -> Scope:
        return Scope(everything=True, functions=self.functions.principal if self.functions else None)

    def _sync_user(self, user_id: int) -> AclPlan:
        """Make one user's bindings what their own and the public filters say (none when not a reader)."""
        readers = [user_id] if self.readers.is_reader(user_id) else []
        filters = {f.filter_id: f for f in [*self.filters.list_for(user_id), *self.filters.list_public()]}
        return self._apply(acl_bindings(filters.values(), readers), Scope.user(user_id))

    def _apply(self, wanted: frozenset, scope: Scope) -> AclPlan:
        changes = plan(wanted, self.acls.bindings(scope), scope)
        if not changes.empty:
            self.acls.apply(changes)
            log.info("ACLs changed", extra={"added": len(changes.add), "removed": len(changes.remove),
                                            "changes": changes.lines()})
        return changes
