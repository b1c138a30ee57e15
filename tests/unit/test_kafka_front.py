"""The local broker's front door, piece by piece (the whole of it is driven by real librdkafka clients in
tests/integration/test_stream_access.py): the SCRAM server, the ACL store's filter rules, and the versions it
advertises in tansu's ApiVersions answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

from skystream.local.kafka_front import wire
from skystream.local.kafka_front.acls import ANY, LITERAL, MATCH, PREFIXED, Binding, BindingFilter, BindingStore
from skystream.local.kafka_front.proxy import VERSIONS, _patched_versions
from skystream.local.kafka_front.scram import CredentialStore, ScramExchange

READ, WRITE, ALLOW, TOPIC, GROUP = 3, 4, 3, 2, 3


def client_login(exchange: ScramExchange, user: str, password: str, salt_seen: list[bytes] | None = None) -> bytes | None:
    """The client side of SCRAM-SHA-512 (RFC 5802), against ``exchange``."""
    nonce = "clientnonce"
    first_bare = f"n={user},r={nonce}"
    server_first = exchange.first(f"n,,{first_bare}".encode()).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salt = base64.b64decode(attrs["s"])
    if salt_seen is not None:
        salt_seen.append(salt)
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha512").digest()
    stored = hashlib.sha512(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored, auth_message, "sha512").digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True))).decode()
    return exchange.final(f"{without_proof},p={proof}".encode())


def test_scram_accepts_the_password_and_refuses_a_wrong_one_and_an_unknown_user_alike() -> None:
    store = CredentialStore()
    store.set_password("user-1", "right", "SCRAM-SHA-512")
    ok = ScramExchange(store, "SCRAM-SHA-512")
    assert client_login(ok, "user-1", "right") is not None and ok.user == "user-1"
    wrong = ScramExchange(store, "SCRAM-SHA-512")
    assert client_login(wrong, "user-1", "wrong") is None and wrong.user is None
    # an unknown user gets a salt like anyone (stable per name), and fails only at the proof
    salts: list[bytes] = []
    for _ in range(2):
        unknown = ScramExchange(store, "SCRAM-SHA-512")
        assert client_login(unknown, "user-99", "right", salts) is None and unknown.user is None
    assert salts[0] == salts[1] and len(salts[0]) == 32
    assert store.delete("user-1", "SCRAM-SHA-512") and client_login(ScramExchange(store, "SCRAM-SHA-512"),
                                                                     "user-1", "right") is None


def test_the_store_keeps_salted_keys_never_the_password() -> None:
    store = CredentialStore()
    store.set_password("user-1", "a-password-to-find", "SCRAM-SHA-512")
    credential = store.get("user-1", "SCRAM-SHA-512")
    assert credential is not None and b"a-password-to-find" not in repr(credential).encode()
    assert store.mechanisms_of("user-1") == [(2, 4096)] and store.users() == ["user-1"]


def test_acl_filters_follow_kafkas_rules() -> None:
    store = BindingStore()
    literal = Binding(TOPIC, "lasair_1x", LITERAL, "User:user-1", "*", READ, ALLOW)
    prefixed = Binding(GROUP, "user-1-", PREFIXED, "User:user-1", "*", READ, ALLOW)
    other = Binding(TOPIC, "lasair_12x", LITERAL, "User:user-12", "*", READ, ALLOW)
    for b in (literal, prefixed, other):
        assert store.create(b) is None
    assert store.create(Binding(ANY, "x", LITERAL, "User:a", "*", READ, ALLOW)) is not None  # "any" is no resource

    def described(**kw: object) -> set[Binding]:
        base = dict(resource_type=ANY, name=None, pattern_type=ANY, principal=None, host=None, operation=ANY,
                    permission=ANY)
        return set(store.describe(BindingFilter(**{**base, **kw})))  # type: ignore[arg-type]

    assert described() == {literal, prefixed, other}
    assert described(resource_type=TOPIC, name="lasair_1x", pattern_type=LITERAL) == {literal}
    assert described(principal="User:user-1") == {literal, prefixed}
    assert described(resource_type=GROUP, name="user-1-laptop", pattern_type=MATCH) == {prefixed}
    assert described(resource_type=GROUP, name="user-12-laptop", pattern_type=MATCH) == set()
    assert described(operation=WRITE) == set()
    gone = store.delete(BindingFilter(TOPIC, "lasair_1x", LITERAL, "User:user-1", "*", READ, ALLOW))
    assert gone == [literal] and described() == {prefixed, other}


def test_tansus_apiversions_answer_advertises_what_the_front_door_answers() -> None:
    # tansu's answer (v3, flexible): CreateAcls v0-3 (a stub), no DeleteAcls, Fetch v0-12
    keys = [(1, 0, 12), (18, 0, 3), (29, 0, 3), (30, 0, 3)]
    body = wire.int16(0) + wire.array_length(len(keys), True)
    body += b"".join(struct.pack(">hhh", *k) + wire.tags(True) for k in keys)
    answer = wire.int32(7) + body + wire.int32(0) + wire.tags(True)
    patched = _patched_versions(answer, 3)
    r = wire.Reader(patched, 0)
    assert r.int32() == 7 and r.int16() == 0
    found = {}
    for _ in range(r.array_length(True)):
        key, low, high = r.int16(), r.int16(), r.int16()
        r.skip_tags(True)
        found[key] = (low, high)
    assert found[1] == (0, 12) and found[18] == (0, 3)  # tansu's own, unchanged
    assert {k: found[k] for k in VERSIONS} == VERSIONS  # SASL, SCRAM and ACL APIs: the front door's versions
    assert r.rest() == wire.int32(0) + wire.tags(True)  # throttle time and tags kept as they were
    refused = wire.int32(7) + wire.int16(35) + b"rest"
    assert _patched_versions(refused, 3) == refused  # an error answer passes unchanged
