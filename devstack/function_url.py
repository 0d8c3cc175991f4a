"""A Function-URL-compatible HTTP endpoint: requests in, payload 2.0 events to a function, its
answer back as the HTTP response. Used by the local stack and the device client's tests.

Its auth type is Lambda's: ``AWS_IAM`` (an ``IamAuth``) lets through only requests signed with
SigV4 by known credentials, for the service ``lambda`` in its region, dated within 5 minutes,
and answers the others 403 with AWS's error shape; ``NONE`` (``auth=None``) lets any request
through, signed or not, as Lambda does.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import ReadOnlyCredentials

Invoke = Callable[[dict[str, Any]], Mapping[str, Any]]

SERVICE: Final = "lambda"  # what a Function URL request is signed for
MAX_SKEW: Final = timedelta(minutes=5)  # X-Amz-Date this far from the clock at most
_AMZ_DATE: Final = "%Y%m%dT%H%M%SZ"
_AUTHORIZATION: Final = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
# AWS's answers, as a Function URL with AWS_IAM auth gives them: (error type, message).
FORBIDDEN: Final = ("AccessDeniedException", "Forbidden")
INCOMPLETE: Final = (
    "IncompleteSignatureException",
    "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
)
UNKNOWN_KEY: Final = (
    "UnrecognizedClientException",
    "The security token included in the request is invalid.",
)
MISMATCH: Final = (
    "InvalidSignatureException",
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.",
)


class Refused(Exception):
    """A request AWS_IAM auth does not let through: the error type and AWS's message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type, self.message = error_type, message


@dataclass(frozen=True)
class IamAuth:
    """AWS_IAM auth for one set of credentials in one region (the local stack's)."""

    access_key: str
    secret_key: str
    region: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def check(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raises Refused unless the request is signed as AWS_IAM auth requires."""
        lowered = {k.lower(): v for k, v in headers.items()}
        authorization = lowered.get("authorization")
        if not authorization:
            raise Refused(*FORBIDDEN)
        parsed = _AUTHORIZATION.fullmatch(authorization.strip())
        if parsed is None:
            raise Refused(*INCOMPLETE)
        key, day, region, service, terminator = (parsed["credential"].split("/") + [""] * 5)[:5]
        if key != self.access_key:
            raise Refused(*UNKNOWN_KEY)
        if service != SERVICE:
            raise Refused(
                INCOMPLETE[0], f"Credential should be scoped to correct service: '{SERVICE}'."
            )
        if region != self.region or terminator != "aws4_request":
            raise Refused(INCOMPLETE[0], "Credential should be scoped to a valid region.")
        stamp = lowered.get("x-amz-date", "")
        signed = parsed["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            raise Refused(*INCOMPLETE)
        self._check_date(stamp, day)
        request = AWSRequest(
            method=method,
            url=f"http://{lowered.get('host', '')}{target}",
            data=body,
            headers={name: lowered.get(name, "") for name in signed},
        )
        request.context["timestamp"] = stamp
        signer = _Verifier(ReadOnlyCredentials(key, self.secret_key, None), region, signed)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, parsed["signature"]):
            raise Refused(*MISMATCH)

    def _check_date(self, stamp: str, day: str) -> None:
        try:
            when = datetime.strptime(stamp, _AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            raise Refused(
                INCOMPLETE[0],
                "Authorization header requires existence of either a 'X-Amz-Date' "
                "or a 'Date' header.",
            ) from None
        if not stamp.startswith(day):
            raise Refused(
                MISMATCH[0],
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                f"version of date from HTTP: '{day}' != '{stamp[:8]}', from '{stamp}'.",
            )
        now = self.clock()
        shown = now.strftime(_AMZ_DATE)
        if when < now - MAX_SKEW:
            raise Refused(
                MISMATCH[0],
                f"Signature expired: {stamp} is now earlier than "
                f"{(now - MAX_SKEW).strftime(_AMZ_DATE)} ({shown} - 5 min.)",
            )
        if when > now + MAX_SKEW:
            raise Refused(
                MISMATCH[0],
                f"Signature not yet current: {stamp} is still later than "
                f"{(now + MAX_SKEW).strftime(_AMZ_DATE)} ({shown} + 5 min.)",
            )


# Lambda's auth types for a Function URL, as the template's FunctionUrlAuthType takes them.
AWS_IAM: Final = "AWS_IAM"
NONE: Final = "NONE"
AUTH_TYPES: Final = (AWS_IAM, NONE)


def auth_for(auth_type: str, environ: Mapping[str, str]) -> IamAuth | None:
    """AWS_IAM against the credentials and region ``environ`` holds (the local stack's: every
    process of it has them), or None for NONE."""
    if auth_type not in AUTH_TYPES:
        raise ValueError(f"auth type {auth_type!r}: one of {', '.join(AUTH_TYPES)}")
    if auth_type == NONE:
        return None
    key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise ValueError(
            "AWS_IAM auth checks signatures against AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY:"
            " set both (the local stack's credentials)"
        )
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return IamAuth(key, secret, region)


class _Verifier(SigV4Auth):
    """botocore's signer over exactly the headers the request says it signed."""

    def __init__(self, credentials: ReadOnlyCredentials, region: str, signed: list[str]) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self._signed:
            chosen[name] = request.headers.get(name, "")
        return chosen


def refusal(refused: Refused) -> dict[str, Any]:
    """The answer to a refused request, as a function's answer is shaped."""
    key = "Message" if refused.error_type == FORBIDDEN[0] else "message"
    return {
        "statusCode": 403,
        "headers": {
            "content-type": "application/json",
            "x-amzn-ErrorType": refused.error_type,
        },
        "body": json.dumps({key: refused.message}),
    }


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


def _make_handler(invoke: Invoke, auth: IamAuth | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = dict(self.headers.items())
            try:
                if auth is not None:
                    auth.check(self.command, self.path, headers, body)
            except Refused as refused:
                answer: Mapping[str, Any] = refusal(refused)
            else:
                event = event_from_request(
                    self.command, self.path, headers, body, self.client_address[0]
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
def serving(
    invoke: Invoke, host: str = "127.0.0.1", port: int = 0, auth: IamAuth | None = None
) -> Iterator[str]:
    """Serve ``invoke`` as a Function URL, with AWS_IAM auth when ``auth`` is given (else
    NONE); yields the base URL."""
    with serve_in_thread(_make_handler(invoke, auth), host, port) as url:
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
