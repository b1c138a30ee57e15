"""Schema ids this package does not ship: asked of a Confluent schema registry when one is configured."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import fastavro.schema
import pytest

from skystream.alerts import schema_files
from skystream.alerts.schema_files import RegistryUnavailable, alert_schema_path
from skystream.alerts.wire import BadAlert, decode_alert, encode_alert
from skystream.devtools.generator import generate_alerts


def _v12_schema() -> str:
    """The 11.1 schema, self-contained, renamed as if Rubin had published 12.0."""
    expanded = fastavro.schema.expand_schema(fastavro.schema.load_schema(str(alert_schema_path("11.1"))))
    return json.dumps(expanded).replace("lsst.v11_1", "lsst.v12_0")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    asked: list[str] = []
    schema = _v12_schema()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            if self.path == "/schemas/ids/1200":
                body = json.dumps({"schema": schema}).encode()
                self.send_response(200)
            elif self.path == "/schemas/ids/1300":
                body, _ = b"{}", self.send_response(503)
            else:
                body = b'{"error_code": 40403}'
                self.send_response(404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(schema_files.REGISTRY_ENV, f"http://127.0.0.1:{server.server_port}")
    schema_files._REGISTRY_CACHE.clear()
    try:
        yield asked
    finally:
        server.shutdown()
        schema_files._REGISTRY_CACHE.clear()


def _relabel(value: bytes, identifier: int) -> bytes:
    return b"\x00" + struct.pack(">I", identifier) + value[5:]


def test_an_unknown_id_is_fetched_once_and_decodes(registry: list[str]) -> None:
    alert = generate_alerts(1, seed=12)[0]
    value = _relabel(encode_alert(alert, "11.1"), 1200)
    for _ in range(3):
        decoded = decode_alert(value)
        assert decoded.alert == alert and decoded.schema_version == "12.0"
    assert registry == ["/schemas/ids/1200"]  # cached after the first answer


def test_an_id_the_registry_does_not_know_is_a_bad_record(registry: list[str]) -> None:
    value = _relabel(encode_alert(generate_alerts(1, seed=12)[0]), 4711)
    with pytest.raises(BadAlert, match="unknown alert schema id 4711"):
        decode_alert(value)


def test_a_failing_registry_raises_for_a_retry_not_a_dead_letter(registry: list[str]) -> None:
    value = _relabel(encode_alert(generate_alerts(1, seed=12)[0]), 1300)
    with pytest.raises(RegistryUnavailable):
        decode_alert(value)
