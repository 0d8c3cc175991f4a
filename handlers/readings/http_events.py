"""The HTTP events the ingest function takes, read into a request line. No AWS calls here.

Two payload formats, told apart by where the method is:

    2.0  Function URLs and API Gateway HTTP APIs      requestContext.http.method, rawPath
    1.0  API Gateway REST APIs (proxy integration)    httpMethod, path

Both carry ``headers``, ``queryStringParameters``, ``body`` and ``isBase64Encoded`` under the same
names, which is all the routes read, and both accept the same answer (statusCode, headers, body).
Any other event (a direct invoke with a reading, an S3 notification) has no method: the handler
answers 400 with ``SPOKEN`` instead of guessing a GET.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

SPOKEN: Final = (
    "not an HTTP event: this function takes Function URL or API Gateway payload format 2.0 "
    "(requestContext.http.method, rawPath) and API Gateway REST payload format 1.0 "
    "(httpMethod, path)"
)


def request_line(event: Mapping[str, Any], context: object = None) -> tuple[str, str, str]:
    """Method (upper case; empty when the event is not HTTP), path and request id."""
    request_context = event.get("requestContext")
    if not isinstance(request_context, Mapping):
        request_context = {}
    http = request_context.get("http")
    if isinstance(http, Mapping) and http.get("method"):  # 2.0
        method, path = http["method"], event.get("rawPath") or http.get("path")
    elif event.get("httpMethod"):  # 1.0: "path" is the resource's, without the stage
        method, path = event["httpMethod"], event.get("path")
    else:
        method, path = "", event.get("rawPath") or event.get("path")
    request_id = request_context.get("requestId") or getattr(context, "aws_request_id", "")
    return str(method).upper(), str(path or "/"), str(request_id)
