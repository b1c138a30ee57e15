"""SCRAM (RFC 5802, RFC 7677) as a Kafka broker does it: salted credentials per user and mechanism,
and the server side of one exchange.

The store keeps what Kafka keeps (salt, iterations, StoredKey, ServerKey): never a password, so
nothing the proxy holds can be replayed as a login. An unknown user gets a made-up salt and is
refused at the proof, like a wrong password, so the first step does not tell a guesser which
usernames exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass

MECHANISMS: dict[str, tuple[str, int]] = {"SCRAM-SHA-512": ("sha512", 2), "SCRAM-SHA-256": ("sha256", 1)}
"""Mechanism name -> (hashlib algorithm, the mechanism's number in the Kafka SCRAM admin API)."""
MECHANISM_BY_NUMBER = {number: name for name, (_, number) in MECHANISMS.items()}
DEFAULT_ITERATIONS = 4096  # Kafka's minimum for SCRAM-SHA-512


@dataclass(frozen=True)
class Credential:
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def _keys(algorithm: str, salted_password: bytes) -> tuple[bytes, bytes]:
    client_key = hmac.new(salted_password, b"Client Key", algorithm).digest()
    return hashlib.new(algorithm, client_key).digest(), hmac.new(salted_password, b"Server Key", algorithm).digest()


class CredentialStore:
    """(user, mechanism) -> :class:`Credential`; thread-safe (the admin API and logins share it)."""

    def __init__(self) -> None:
        self._credentials: dict[tuple[str, str], Credential] = {}
        self._lock = threading.Lock()

    def set_password(self, user: str, password: str, mechanism: str = "SCRAM-SHA-512",
                     iterations: int = DEFAULT_ITERATIONS) -> None:
        """What ``kafka-configs --alter --add-config SCRAM-SHA-512=[password=...]`` does: salt and forget it."""
        algorithm = MECHANISMS[mechanism][0]
        salt = os.urandom(32)
        self.upsert_salted(user, mechanism, iterations, salt,
                           hashlib.pbkdf2_hmac(algorithm, password.encode(), salt, iterations))

    def upsert_salted(self, user: str, mechanism: str, iterations: int, salt: bytes, salted_password: bytes) -> None:
        """What AlterUserScramCredentials sends: the client salted the password; keep only the derived keys."""
        stored, server = _keys(MECHANISMS[mechanism][0], salted_password)
        with self._lock:
            self._credentials[(user, mechanism)] = Credential(salt, iterations, stored, server)

    def delete(self, user: str, mechanism: str) -> bool:
        with self._lock:
            return self._credentials.pop((user, mechanism), None) is not None

    def get(self, user: str, mechanism: str) -> Credential | None:
        with self._lock:
            return self._credentials.get((user, mechanism))

    def mechanisms_of(self, user: str) -> list[tuple[int, int]]:
        """(mechanism number, iterations) for each credential ``user`` has."""
        with self._lock:
            return [(MECHANISMS[m][1], c.iterations) for (u, m), c in self._credentials.items() if u == user]

    def users(self) -> list[str]:
        with self._lock:
            return sorted({u for u, _ in self._credentials})


_DECOY_SECRET = os.urandom(32)


def _decoy(user: str, mechanism: str) -> Credential:
    """A credential no password matches, stable per user, for users that do not exist."""
    algorithm = MECHANISMS[mechanism][0]
    seed = hmac.new(_DECOY_SECRET, f"{mechanism}:{user}".encode(), hashlib.sha256).digest()
    return Credential(salt=seed, iterations=DEFAULT_ITERATIONS, stored_key=os.urandom(64)[: hashlib.new(algorithm).digest_size],
                      server_key=b"")


class ScramExchange:
    """The server side of one SCRAM exchange: :meth:`first` then :meth:`final`; ``user`` once it succeeded."""

    def __init__(self, store: CredentialStore, mechanism: str):
        self.store, self.mechanism = store, mechanism
        self.algorithm = MECHANISMS[mechanism][0]
        self.step = 0
        self.user: str | None = None
        self._claimed: str = ""
        self._known = False

    def first(self, message: bytes) -> bytes:
        """client-first-message -> server-first-message. Raises ValueError on a malformed message."""
        gs2_flag, authzid, bare = message.decode().split(",", 2)
        if gs2_flag not in {"n", "y"}:
            raise ValueError("channel binding is not supported")
        attributes = dict(item.split("=", 1) for item in bare.split(","))
        self._claimed = attributes["n"].replace("=2C", ",").replace("=3D", "=")
        credential = self.store.get(self._claimed, self.mechanism)
        self._known = credential is not None and (not authzid or authzid == f"a={self._claimed}")
        self._credential = credential if self._known and credential else _decoy(self._claimed, self.mechanism)
        self._nonce = attributes["r"] + base64.b64encode(os.urandom(18)).decode()
        self._client_first_bare = bare
        self._server_first = (f"r={self._nonce},s={base64.b64encode(self._credential.salt).decode()},"
                              f"i={self._credential.iterations}")
        self.step = 1
        return self._server_first.encode()

    def final(self, message: bytes) -> bytes | None:
        """client-final-message -> server-final-message, or None when the proof is wrong (or the user unknown)."""
        text = message.decode()
        without_proof, _, proof_b64 = text.rpartition(",p=")
        attributes = dict(item.split("=", 1) for item in without_proof.split(","))
        if attributes.get("r") != self._nonce:
            return None
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = hmac.new(self._credential.stored_key, auth_message, self.algorithm).digest()
        proof = base64.b64decode(proof_b64)
        if len(proof) != len(signature):
            return None
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not (self._known and hmac.compare_digest(hashlib.new(self.algorithm, client_key).digest(),
                                                     self._credential.stored_key)):
            return None
        self.user = self._claimed
        self.step = 2
        return b"v=" + base64.b64encode(hmac.new(self._credential.server_key, auth_message, self.algorithm).digest())
