"""The local AWS endpoint: moto's server, on the LocalStack port by default."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

from skystream.local.processes import spawn, wait_for_port

LOCALSTACK_PORT = 4566
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def start_moto(port: int, log_path: Path, *, die_with_parent: bool = False) -> subprocess.Popen:
    process = spawn(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log_path=log_path,
        die_with_parent=die_with_parent,
    )
    wait_for_port(port, timeout=60, what="moto server", process=process)
    return process


def moto_reset(endpoint: str) -> None:
    """Forget every resource (moto only): tests start from nothing."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass

