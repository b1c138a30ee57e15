"""The HTTP API on a local port: each request becomes the API Gateway HTTP API (payload 2.0) event.

What API Gateway refuses before the function runs is refused here too: a body over
:data:`MAX_BODY_BYTES` (413, unread) and a Content-Length that is not a number (400).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from skystream.local.handlers import Handler, LocalLambdaContext

MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway HTTP APIs take payloads up to 10 MB."""


def http_api_event(method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    """The event API Gateway sends to a Lambda proxy integration (payload format 2.0)."""
    parts = urlsplit(raw_path)
    query = parse_qsl(parts.query, keep_blank_values=True)
    lowered = {k.lower(): v for k, v in headers.items()}
    text_body: str | None = None
    is_base64 = False
    if body:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode("ascii"), True
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if query:
        event["queryStringParameters"] = {k: v for k, v in query}
    if text_body is not None:
        event["body"] = text_body
    return event


class LocalHttpApi:
    """Serves one handler; calls are serialised, as one Lambda container serves one request at a time."""

    def __init__(self, handler: Handler, port: int, function_name: str = "FilterApiFunction"):
        self.handler = handler
        self.function_name = function_name
        self._lock = threading.Lock()
        api = self

        class _RequestHandler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                declared = (self.headers.get("Content-Length") or "0").strip()
                if not (declared.isascii() and declared.isdigit()):
                    return self._refuse(400, "Bad Request", f"Content-Length {declared[:40]!r} is not a number")
                length = int(declared[:12]) if len(declared) <= 12 else MAX_BODY_BYTES + 1
                if length > MAX_BODY_BYTES:
                    return self._refuse(413, "Request Entity Too Large",
                                        f"the body is {declared[:20]} bytes; the API takes at most {MAX_BODY_BYTES}")
                body = self.rfile.read(length) if length else b""
                event = http_api_event(self.command, self.path, dict(self.headers), body, self.client_address[0])
                self._reply(*api.invoke(event))

            def _refuse(self, status: int, message: str, detail: str) -> None:
                self.close_connection = True  # the body was not read: the connection cannot be reused
                self._reply(status, {"Content-Type": "application/json"},
                            json.dumps({"message": message, "detail": detail}).encode())

            def _reply(self, status: int, out_headers: dict[str, str], out_body: bytes) -> None:
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(out_body)))
                self.end_headers()
                self.wfile.write(out_body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), _RequestHandler)
        self.port = int(self.server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """Call the handler and turn its proxy response (or its crash) into status, headers, body."""
        try:
            with self._lock:
                response = self.handler(event, LocalLambdaContext(self.function_name, timeout_s=29))
        except Exception as exc:  # API Gateway answers 500 when the function fails
            body = json.dumps({"message": "Internal Server Error", "detail": f"{type(exc).__name__}: {exc}"})
            return 500, {"Content-Type": "application/json"}, body.encode()
        if not isinstance(response, dict) or "statusCode" not in response:
            payload = json.dumps(response).encode()
            return 200, {"Content-Type": "application/json"}, payload
        body_text = response.get("body") or ""
        body_bytes = base64.b64decode(body_text) if response.get("isBase64Encoded") else body_text.encode()
        headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        return int(response["statusCode"]), headers, body_bytes

    def start(self) -> LocalHttpApi:
        self._thread = threading.Thread(target=self.server.serve_forever, name="local-http-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
