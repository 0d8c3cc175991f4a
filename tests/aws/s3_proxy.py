"""S3 as the deployed resize role sees it, in front of moto's server, over real HTTP.

The role may GetObject under the source prefix but not ListBucket, and S3 then answers a
request for a missing key 403 AccessDenied, not 404 NoSuchKey (it will not tell a caller who
may not list the bucket whether a key exists). moto answers 404, so this proxy passes every
request through and rewrites that one answer, with the body S3 sends; botocore parses it as it
would parse AWS's.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from devstack.function_url import serve_in_thread

ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message><RequestId>0000000000000000</RequestId></Error>"
)


class S3WithoutListBucket:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.denied: list[str] = []  # paths answered 403 in place of 404

    def forward(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.upstream + path, data=body or None, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                answer = exc.read()
                if exc.code == 404 and method in ("GET", "HEAD") and b"NoSuchKey" in answer:
                    self.denied.append(path)
                    return 403, {"content-type": "application/xml"}, ACCESS_DENIED
                return exc.code, dict(exc.headers), answer


@contextmanager
def running(upstream: str) -> Iterator[tuple[S3WithoutListBucket, str]]:
    proxy = S3WithoutListBucket(upstream)

    class Handler(BaseHTTPRequestHandler):
        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
            # Drop hop-by-hop headers; moto does not check the signature over them.
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            }
            status, answer_headers, answer = proxy.forward(self.command, self.path, body, headers)
            self.send_response(status)
            for name, value in answer_headers.items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        def log_message(self, *args: object) -> None:
            pass

    with serve_in_thread(Handler) as url:
        yield proxy, url
