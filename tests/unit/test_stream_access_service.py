"""The stream-access service on fakes: credentials (issue, rotate, withdraw) and ACLs around the filter lifecycle.

The order matters and is asserted: a topic never exists without its ACLs (grant before create, revoke after
delete); a user's ACLs exist before their password works and go before it is removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fakes import MemoryAcls, MemoryCatalog, MemoryReaders, MemoryScramUsers, RecordingAccess, RecordingTopics
from test_api import World, filter_service, recent_objects
from test_api import world as world
from test_stream_acls import FUNCTIONS, describes, groups, kafka_filter, reads

from skystream.config import settings
from skystream.domain.errors import NotFound, Unavailable
from skystream.domain.stream_access import AclBinding, Scope, acl_bindings
from skystream.domain.users import User
from skystream.services.stream_access import StreamAccess
from skystream.storage.filters import FilterStore
from skystream.storage.users import UserStore
from skystream.wiring import api as wiring

ADA, BOB = User(1, "Ada", "ada@example.org"), User(2, "Bob", "bob@example.org")


def service(*filters, readers=(), acls: MemoryAcls | None = None, users: MemoryScramUsers | None = None,
            log: list | None = None) -> StreamAccess:
    acls = acls or MemoryAcls()
    if log is not None:  # the ACL changes and the credential changes in one sequence
        original = acls.apply

        def apply(plan):
            log.append(("acls", plan))
            original(plan)

        acls.apply = apply  # type: ignore[method-assign]
    return StreamAccess(filters=MemoryCatalog(filters), readers=MemoryReaders(readers), acls=acls,
                        users=users or MemoryScramUsers(log), functions=FUNCTIONS)


def test_issuing_gives_a_stable_username_a_fresh_password_and_the_acls_before_the_password() -> None:
    log: list = []
    users = MemoryScramUsers(log)
    access = service(kafka_filter(1, "own"), kafka_filter(2, "pub", public=True), users=users, log=log)
    first = access.issue(ADA)
    assert (first.username, first.mechanism, first.consumer_group_prefix) == ("user-1", "SCRAM-SHA-512", "user-1-")
    assert users.passwords == {"user-1": first.password} and len(first.password) >= 40
    assert "password" not in repr(first) and first.password not in repr(first)
    assert [entry[0] for entry in log] == ["acls", "set_password"]  # ACLs first
    assert access.acls.bindings(Scope.user(1)) == {reads(1, "lasair_1own"), describes(1, "lasair_1own"),
                                                   reads(1, "lasair_2pub"), groups(1)}
    second = access.issue(ADA)  # rotation: same user, new password, the old one gone from the store
    assert second.username == "user-1" and second.password != first.password
    assert users.passwords == {"user-1": second.password}
    assert access.has_credentials(1) and not access.has_credentials(2)


def test_withdrawing_removes_the_acls_then_the_credential_and_says_when_there_was_none() -> None:
    log: list = []
    access = service(kafka_filter(1, "own"), kafka_filter(2, "pub", public=True), log=log)
    access.issue(ADA)
    access.issue(BOB)
    log.clear()
    assert access.withdraw(1) == "user-1"
    assert [entry[0] for entry in log] == ["acls", "remove"]  # ACLs first: MSK keeps a removed secret's sessions
    assert access.acls.bindings(Scope.user(1)) == set() and not access.has_credentials(1)
    assert access.acls.bindings(Scope.user(2)) == {reads(2, "lasair_2pub"), describes(2, "lasair_2pub"), groups(2)}
    with pytest.raises(NotFound, match="holds no Kafka credentials"):
        access.withdraw(1)


def test_grant_and_revoke_reconcile_one_topic_whatever_was_there() -> None:
    stale = AclBinding("TOPIC", "lasair_1x", "LITERAL", "User:user-7", "READ")  # a left-over of an earlier filter
    access = service(readers=[1, 2, 3], acls=MemoryAcls({stale, groups(1)}))
    access.grant(kafka_filter(1, "x", public=True))
    assert access.acls.bindings(Scope.topic("lasair_1x")) == {reads(1, "lasair_1x"), describes(1, "lasair_1x"),
                                                              reads(2, "lasair_1x"), reads(3, "lasair_1x")}
    access.grant(kafka_filter(1, "x"))  # public -> private
    assert access.acls.bindings(Scope.topic("lasair_1x")) == {reads(1, "lasair_1x"), describes(1, "lasair_1x")}
    access.revoke("lasair_1x")
    assert access.acls.current == {groups(1)}  # only that topic's bindings went
    access.grant(kafka_filter(1, "mail", output="email"))  # no topic: nothing to do
    assert access.acls.current == {groups(1)}


def test_the_plan_covers_the_functions_and_every_user_and_applies() -> None:
    filters = [kafka_filter(1, "own"), kafka_filter(2, "pub", public=True)]
    access = service(*filters, readers=[1, 2])
    changes = access.plan()
    assert set(changes.add) == acl_bindings(filters, [1, 2], functions=FUNCTIONS) and changes.remove == ()
    access.apply(changes)
    assert access.plan().empty


# -- the filter lifecycle, in order ---------------------------------------------------------------


@pytest.fixture
def ordered(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The API world, with the topic and ACL changes in one log."""
    topics = world.topics
    access = RecordingAccess(topics.log)
    monkeypatch.setattr(wiring, "filter_service",
                        lambda: filter_service(topics, recent_objects(30), world.producer, access=access))
    yield world


BODY = {"name": "x", "selected": "objects.diaObjectId", "tables": "objects", "conditions": "objects.nDiaSources >= 3",
        "output": "kafka_plain", "on_alert": True}


def test_a_topic_gets_its_acls_before_it_exists_and_loses_them_after_it_is_gone(ordered: World) -> None:
    status, saved = ordered.call("POST", "/filters", BODY)
    assert status == 201
    fid = saved["filter"]["filter_id"]
    assert ordered.topics.log == [("delete", "lasair_1x"), ("grant", "lasair_1x"), ("create", "lasair_1x")]

    ordered.topics.log.clear()
    status, _ = ordered.call("PATCH", f"/filters/{fid}", {"version": 1, "public": True})
    assert status == 200
    assert ordered.topics.log == [("delete", "lasair_1x"), ("grant", "lasair_1x"), ("create", "lasair_1x")]

    ordered.topics.log.clear()  # rename: the old topic goes, then its ACLs; the new one's ACLs, then the topic
    status, _ = ordered.call("PATCH", f"/filters/{fid}", {"version": 2, "name": "y"})
    assert status == 200
    assert ordered.topics.log == [("delete", "lasair_1x"), ("delete", "lasair_1y"), ("revoke", "lasair_1x"),
                                  ("grant", "lasair_1y"), ("create", "lasair_1y")]

    ordered.topics.log.clear()  # to email: no topic, no ACL
    status, _ = ordered.call("PATCH", f"/filters/{fid}", {"version": 3, "output": "email"})
    assert status == 200 and ordered.topics.log == [("delete", "lasair_1y"), ("revoke", "lasair_1y")]

    status, _ = ordered.call("PATCH", f"/filters/{fid}", {"version": 4, "output": "kafka_plain"})
    ordered.topics.log.clear()
    status, _ = ordered.call("DELETE", f"/filters/{fid}")
    assert status == 200 and ordered.topics.log == [("delete", "lasair_1y"), ("revoke", "lasair_1y")]


def test_a_failed_grant_is_a_503_that_says_the_filter_is_saved_and_creates_no_topic(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    class Refusing(RecordingAccess):
        def grant(self, f):  # type: ignore[no-untyped-def]
            raise Unavailable("the Kafka cluster did not answer while adding ACLs (timed out); try again")

    topics = RecordingTopics()
    monkeypatch.setattr(wiring, "filter_service",
                        lambda: filter_service(topics, recent_objects(30), world.producer, access=Refusing()))
    status, body = world.call("POST", "/filters", BODY)
    assert status == 503 and body["error"] == "unavailable"
    assert "is saved" in body["detail"] and "adding ACLs" in body["detail"]
    assert ("create", "lasair_1x") not in topics.log  # no topic without its ACLs


# -- the routes -------------------------------------------------------------------------------------


@pytest.fixture
def credentials_world(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, MemoryScramUsers]]:
    users = MemoryScramUsers()
    access = StreamAccess(filters=FilterStore(), readers=UserStore(), acls=MemoryAcls(), users=users,
                          functions=None)
    monkeypatch.setattr(wiring, "stream_access", lambda: access)
    yield world, users


def test_the_credentials_routes_issue_once_show_state_and_withdraw(
        credentials_world: tuple[World, MemoryScramUsers], caplog: pytest.LogCaptureFixture) -> None:
    world, users = credentials_world
    status, body = world.call("GET", "/streams/credentials")
    assert status == 200 and body["issued"] is False and body["username"] == "user-1"
    status, issued = world.call("POST", "/streams/credentials")
    assert status == 201 and issued["username"] == "user-1" and users.passwords["user-1"] == issued["password"]
    assert issued["mechanism"] == "SCRAM-SHA-512" and issued["security_protocol"] == "SASL_SSL"
    assert issued["bootstrap_servers"] == "127.0.0.1:1"  # no public endpoint named: the functions'
    assert issued["password"] not in caplog.text  # logged: who and when, never the password
    status, body = world.call("GET", "/streams/credentials")
    assert status == 200 and body["issued"] is True and "password" not in json.dumps(body)
    status, body = world.call("DELETE", "/streams/credentials", token="other")
    assert status == 404 and body["error"] == "not_found"
    status, body = world.call("DELETE", "/streams/credentials")
    assert status == 200 and body == {"revoked": "user-1"} and users.passwords == {}
    status, body = world.call("POST", "/streams/credentials", token=None)
    assert status == 401


def test_a_public_endpoint_is_what_users_are_told(credentials_world: tuple[World, MemoryScramUsers],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    world, _users = credentials_world
    monkeypatch.setenv("KAFKA_PUBLIC_BOOTSTRAP_SERVERS", "b-1.public.example:9196")
    settings.cache_clear()  # the endpoint is built per settings value
    status, issued = world.call("POST", "/streams/credentials")
    assert status == 201 and issued["bootstrap_servers"] == "b-1.public.example:9196"

