"""Users' access to their streams on the local stack, whose broker authenticates (SASL/SCRAM-SHA-512) as MSK does.

Real parts: tansu behind the front door of ``skystream.local.kafka_front``, moto's server, the filter API
hosted on a loopback port, and the user's consumer made by ``lasair_consumer``. The front door keeps ACLs
without enforcing them (docs/streams.md), so what is checked here is the login, and the ACLs the filter
lifecycle leaves on the broker, read back through the Kafka admin API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_filter_streams import seed_objects

from skystream.cli import main as cli
from skystream.clients.api import ApiClient, ApiError
from skystream.clients.lasair import lasair_consumer
from skystream.devtools.generator import generate_alerts
from skystream.domain.errors import StreamAccessRefused
from skystream.domain.stream_access import AclBinding, AclPlan, Scope, acl_bindings
from skystream.local.testing import EphemeralStack
from skystream.storage.filters import FilterStore
from skystream.storage.users import UserStore
from skystream.streams.acls import KafkaAcls

BODY = {"selected": "objects.diaObjectId, objects.nDiaSources", "tables": "objects",
        "conditions": "objects.nDiaSources >= 2", "on_alert": True, "output": "kafka_plain"}


@pytest.fixture
def api_url(stack: EphemeralStack) -> Iterator[str]:
    seed_objects(generate_alerts(20, seed=41))
    with stack.api() as url:
        yield url


def read_all(bootstrap: str, topic: str, credentials: dict[str, str], group: str, *, expected: int,
             timeout: float = 30.0) -> list[dict[str, Any]]:
    """Read ``topic`` as the holder of ``credentials``, until ``expected`` records (and 1 s more) or ``timeout``."""
    consumer = lasair_consumer(bootstrap, group, topic, credentials["username"], credentials["password"],
                               security_protocol="SASL_PLAINTEXT", connect_timeout=8)
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.3)
            if msg is not None and msg.error() is None:
                records.append(json.loads(msg.value()))
                if len(records) == expected:
                    deadline = min(deadline, time.monotonic() + 1.0)
    finally:
        consumer.close()
    return records


def refused(bootstrap: str, topic: str, username: str | None, password: str | None) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(StreamAccessRefused) as caught:
        lasair_consumer(bootstrap, "g", topic, username, password, security_protocol="SASL_PLAINTEXT",
                        connect_timeout=8)
    return str(caught.value), time.monotonic() - started


def test_no_password_a_wrong_one_or_an_old_one_is_refused_and_issued_ones_read_the_users_topic(
        stack: EphemeralStack, api_url: str) -> None:
    _user, token = UserStore().add("Ada", "ada@example.org")
    api = ApiClient(api_url, token)
    saved = api.post("/filters", {**BODY, "name": "mine"})
    topic = saved["topic"]
    assert topic == "lasair_1mine" and saved["reseeded"] >= 3
    assert api.get("/streams/credentials")["issued"] is False

    first = api.post("/streams/credentials")
    assert (first["username"], first["mechanism"], first["security_protocol"], first["bootstrap_servers"],
            first["consumer_group_prefix"]) == ("user-1", "SCRAM-SHA-512", "SASL_PLAINTEXT", stack.bootstrap, "user-1-")
    assert len(first["password"]) >= 40 and "shown once" in first["message"]
    assert api.get("/streams/credentials") == {"username": "user-1", "issued": True,
                                               "bootstrap_servers": stack.bootstrap,
                                               "security_protocol": "SASL_PLAINTEXT", "consumer_group_prefix": "user-1-"}

    # issued credentials: the user's own topic is read (the reseeded records)
    assert len(read_all(stack.bootstrap, topic, first, "Susan3456", expected=saved["reseeded"])) == saved["reseeded"]

    # no credentials: refused on the client's side, within seconds, saying what to do
    message, took = refused(stack.bootstrap, topic, None, None)
    assert "need your stream credentials" in message and "/streams/credentials" in message and took < 5
    # a wrong password
    message, took = refused(stack.bootstrap, topic, "user-1", first["password"] + "x")
    assert "refused the login of 'user-1'" in message and took < 5
    # an unknown user is refused the same way (the broker does not say which usernames exist)
    message, _ = refused(stack.bootstrap, topic, "user-99", first["password"])
    assert "refused the login of 'user-99'" in message

    # re-issuing rotates: the old password is refused, the new one reads
    second = api.post("/streams/credentials")
    assert second["username"] == "user-1" and second["password"] != first["password"]
    message, took = refused(stack.bootstrap, topic, "user-1", first["password"])
    assert "refused the login" in message and "replaced" in message and took < 5
    assert len(read_all(stack.bootstrap, topic, second, "again", expected=saved["reseeded"])) == saved["reseeded"]

    # revoked: refused; revoking twice says there is nothing to revoke
    assert api.delete("/streams/credentials") == {"revoked": "user-1"}
    refused(stack.bootstrap, topic, "user-1", second["password"])
    assert api.get("/streams/credentials")["issued"] is False
    with pytest.raises(ApiError) as twice:
        api.delete("/streams/credentials")
    assert twice.value.status == 404 and "holds no Kafka credentials" in twice.value.body["detail"]


def test_the_acls_on_the_broker_follow_the_filter_lifecycle(stack: EphemeralStack, api_url: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Read back through the Kafka admin API from the broker: exactly what the pure function says, at each step."""
    users = UserStore()
    _ada, ada_token = users.add("Ada", "ada@example.org")
    _bob, bob_token = users.add("Bob", "bob@example.org")
    ada, bob = ApiClient(api_url, ada_token), ApiClient(api_url, bob_token)
    acls = KafkaAcls()

    def on_broker(*topics: str) -> set:
        return acls.bindings(Scope.topic(*topics))

    def wanted(*topics: str) -> set:
        bindings = acl_bindings(FilterStore().list_all(), users.readers())
        return {b for b in bindings if Scope.topic(*topics).covers(b)}

    ada.post("/streams/credentials")
    bob.post("/streams/credentials")
    private = ada.post("/filters", {**BODY, "name": "private"})
    fid, topic = private["filter"]["filter_id"], private["topic"]
    assert {(b.principal, b.operation) for b in on_broker(topic)} == {("User:user-1", "READ"),
                                                                      ("User:user-1", "DESCRIBE")}
    assert on_broker(topic) == wanted(topic)

    public = ada.patch(f"/filters/{fid}", {"version": 1, "public": True})
    assert {(b.principal, b.operation) for b in on_broker(topic)} == {
        ("User:user-1", "READ"), ("User:user-1", "DESCRIBE"), ("User:user-2", "READ")}
    assert on_broker(topic) == wanted(topic)

    renamed = ada.patch(f"/filters/{fid}", {"version": public["filter"]["version"], "name": "renamed"})
    new_topic = renamed["topic"]
    assert new_topic == "lasair_1renamed" and on_broker(topic) == set()
    assert on_broker(new_topic) == wanted(new_topic) and len(on_broker(new_topic)) == 3

    private_again = ada.patch(f"/filters/{fid}", {"version": renamed["filter"]["version"], "public": False})
    assert {(b.principal, b.operation) for b in on_broker(new_topic)} == {("User:user-1", "READ"),
                                                                          ("User:user-1", "DESCRIBE")}
    assert private_again["filter"]["public"] is False

    # Bob withdraws: his bindings go (his consumer group's too); Ada's stay
    bob.delete("/streams/credentials")
    assert acls.bindings(Scope.user(2)) == set()
    assert acls.bindings(Scope.user(1)) != set()

    ada.delete(f"/filters/{fid}")
    assert on_broker(new_topic) == set()

    # the whole picture: nothing to change; an ACL made behind skystream's back is shown, then removed
    assert cli(["streams", "acl-plan"]) == 0
    assert "0 to add, 0 to remove" in capsys.readouterr().out
    stray = AclBinding("TOPIC", "lasair_1gone", "LITERAL", "User:user-1", "READ")
    acls.apply(AclPlan(add=(stray,), remove=()))
    assert cli(["streams", "acl-plan"]) == 0
    out = capsys.readouterr().out
    assert "- User:user-1 READ TOPIC LITERAL lasair_1gone" in out and "0 to add, 1 to remove" in out
    assert cli(["streams", "acl-plan", "--apply"]) == 0
    assert "applied" in capsys.readouterr().out and stray not in acls.bindings(Scope.user(1))
