"""A DynamoDB throttle in front of moto's server, over real HTTP.

moto never throttles, so this proxy plays DynamoDB under load: it passes requests through and,
while told to, answers BatchWriteItem with part of the items left in UnprocessedItems, or any
operation with ProvisionedThroughputExceededException. botocore parses its answers exactly as
it would parse AWS's.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from devstack.function_url import serve_in_thread


class DynamoDBProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.partial_batch_writes = 0  # BatchWriteItem calls to answer with one item written
        self.throttled: dict[str, int] = {}  # operation -> calls to refuse
        self.calls: list[str] = []
        # DynamoDB applies each conditional write atomically; moto's threaded server checks a
        # condition and writes without a lock, so two racing puts can both pass. Serialized, the
        # proxy forwards one request at a time: races between requests stay, races inside moto go.
        self.serialized = False
        self._lock = threading.Lock()  # requests arrive on several threads at once
        self._one_at_a_time = threading.Lock()

    def _throttles(self, operation: str) -> bool:
        with self._lock:
            self.calls.append(operation)
            if self.throttled.get(operation, 0) > 0:
                self.throttled[operation] -= 1
                return True
            return False

    def forward(self, operation: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self._throttles(operation):
            error = {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput was exceeded.",
            }
            return 400, json.dumps(error).encode()
        unprocessed: dict[str, Any] = {}
        if operation == "BatchWriteItem" and self.partial_batch_writes > 0:
            self.partial_batch_writes -= 1
            request = json.loads(body)
            for table, writes in request["RequestItems"].items():
                request["RequestItems"][table], unprocessed[table] = writes[:1], writes[1:]
            body = json.dumps(request).encode()
        upstream = urllib.request.Request(self.upstream, data=body, headers=headers, method="POST")
        try:
            if self.serialized:
                with self._one_at_a_time, urllib.request.urlopen(upstream, timeout=30) as response:
                    status, answer = response.status, response.read()
            else:
                with urllib.request.urlopen(upstream, timeout=30) as response:
                    status, answer = response.status, response.read()
        except urllib.error.HTTPError as exc:
            # DynamoDB's errors (a failed condition, with its item) go back as they came.
            with exc:
                return exc.code, exc.read()
        if unprocessed:
            parsed = json.loads(answer)
            parsed["UnprocessedItems"] = {t: w for t, w in unprocessed.items() if w}
            answer = json.dumps(parsed).encode()
        return status, answer


@contextmanager
def running(upstream: str) -> Iterator[tuple[DynamoDBProxy, str]]:
    proxy = DynamoDBProxy(upstream)

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive: botocore reuses its connections. Under HTTP/1.0 every request of a
        # batch's concurrent puts was a new connection, overflowing socketserver's listen
        # backlog of 5, and a dropped SYN is retried after a second.
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            operation = self.headers.get("x-amz-target", "").rsplit(".", 1)[-1]
            # Drop hop-by-hop headers; the signature does not cover them.
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            }
            status, answer = proxy.forward(operation, body, headers)
            self.send_response(status)
            self.send_header("content-type", "application/x-amz-json-1.0")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    with serve_in_thread(Handler) as url:
        yield proxy, url
