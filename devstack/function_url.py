"""A Function-URL-compatible HTTP endpoint: requests in, payload 2.0 events to a function, its
answer back as the HTTP response. Used by the local stack and the device client's tests."""

from __future__ import annotations

import base64
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Invoke = Callable[[dict[str, Any]], Mapping[str, Any]]


def event_from_request(
    method: str, target: str, headers: Mapping[str, str], body: bytes, source_ip: str = "127.0.0.1"
) -> dict[str, Any]:
    """The payload 2.0 event Lambda builds for a Function URL request."""
    url = urlsplit(target)
    text_body = _is_text(headers.get("content-type", ""))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path or "/",
        "rawQueryString": url.query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": url.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": not text_body,
    }
    if url.query:
        event["queryStringParameters"] = dict(parse_qsl(url.query, keep_blank_values=True))
    if body:
        event["body"] = body.decode() if text_body else base64.b64encode(body).decode()
    return event


def _is_text(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return (
        media.startswith("text/")
        or media.endswith(("json", "xml"))
        or media in ("application/x-www-form-urlencoded",)
    )


def _make_handler(invoke: Invoke) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            event = event_from_request(
                self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
            )
            answer = invoke(event)
            payload = answer.get("body") or ""
            data = (
                base64.b64decode(payload)
                if answer.get("isBase64Encoded")
                else str(payload).encode()
            )
            self.send_response(int(answer.get("statusCode", 200)))
            for name, value in (answer.get("headers") or {}).items():
                self.send_header(name, str(value))
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _NoDelayServer(ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        # Without TCP_NODELAY a response written as headers then body waits ~40 ms for the
        # peer's delayed ACK on keep-alive connections, which would show in every Duration.
        conn, address = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client gone mid-connection (a function process stopped while keeping its Runtime API
        # connection alive) is how connections end here, not an error worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@contextmanager
def serving(invoke: Invoke, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``invoke`` as a Function URL; yields the base URL."""
    with serve_in_thread(_make_handler(invoke), host, port) as url:
        yield url


@contextmanager
def serve_in_thread(
    handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Run an HTTP server for ``handler`` in a daemon thread; yields its base URL."""
    server = _NoDelayServer((host, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
