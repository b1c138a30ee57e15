"""Users' SCRAM credentials in the cluster's own store, through the Kafka admin API
(``AlterUserScramCredentials``): ``UserCredentials=kafka`` (a self-managed cluster, and the local stack,
whose front door answers that API). Implements ``skystream.ports.ScramUsers``.

The password leaves this process only inside the SCRAM upsertion, salted by librdkafka
(the cluster keeps the salted keys, as Kafka does). MSK has no such API: its users are
Secrets Manager secrets (``skystream.streams.msk_users``).
"""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from skystream.domain.errors import Unavailable
from skystream.streams.admin import admin_client

ITERATIONS = 8192  # Kafka's minimum for SCRAM-SHA-512 is 4096
TIMEOUT_S = 15.0


class KafkaScramUsers:
    def __init__(self, client: AdminClient | None = None):
        self._admin = client if client is not None else admin_client()

    def set_password(self, username: str, password: str) -> None:
        upsert = UserScramCredentialUpsertion(username, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS),
                                              password.encode())
        self._wait(username, upsert, "setting the Kafka password of")

    def remove(self, username: str) -> bool:
        try:
            self._wait(username, UserScramCredentialDeletion(username, ScramMechanism.SCRAM_SHA_512),
                       "removing the Kafka credential of", tolerate="RESOURCE_NOT_FOUND")
        except _Missing:
            return False
        return True

    def _wait(self, username: str, change: object, doing: str, tolerate: str | None = None) -> None:
        futures = self._admin.alter_user_scram_credentials([change], request_timeout=TIMEOUT_S)
        for future in futures.values():
            try:
                future.result()
            except KafkaException as exc:
                error = exc.args[0] if exc.args else exc
                if tolerate and getattr(error, "name", lambda: "")() == tolerate:
                    raise _Missing from exc
                raise Unavailable(f"the Kafka cluster refused or did not answer while {doing} {username} ({error}); "
                                  "try again") from exc


class _Missing(Exception):
    """The user had no credential to remove."""
