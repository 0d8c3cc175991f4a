"""Where the local stack's AWS calls go: moto's server started by the stack, or an endpoint already
running (LocalStack from ``make localstack`` or ``docker compose up``, another moto).

botocore reads ``AWS_ENDPOINT_URL`` by itself, so choosing an endpoint is setting this process's
environment, which the functions it starts inherit: no endpoint plumbing in the product code.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final
from urllib.parse import urlsplit

from handlers.common import aws

# moto and LocalStack accept any credentials; LocalStack maps these to account 000000000000.
LOCAL_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "thumbstat-local",
    "AWS_SECRET_ACCESS_KEY": "thumbstat-local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class EndpointUnreachable(Exception):
    """Nothing answers at the endpoint the stack was pointed at."""


def require_reachable(endpoint: str, timeout_s: float = 3.0) -> None:
    """Fail fast, naming the endpoint, instead of botocore's retries ending in a traceback."""
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise EndpointUnreachable(f"{endpoint!r} is not an http(s) URL")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        raise EndpointUnreachable(
            f"nothing answers at {endpoint} ({exc.strerror or exc}); start LocalStack first"
            " (make localstack), or leave ENDPOINT unset for moto's server"
        ) from exc


@contextmanager
def pointed_at(endpoint: str) -> Iterator[None]:
    """Point this process, and every function it starts, at ``endpoint`` with local credentials;
    the environment is restored (and the clients dropped) on exit."""
    saved = dict(os.environ)
    # A profile, a session token or a per-service endpoint (AWS_ENDPOINT_URL_S3, ...) from the
    # user's shell would win over these and send calls elsewhere.
    for name in list(os.environ):
        if name in ("AWS_PROFILE", "AWS_SESSION_TOKEN") or name.startswith("AWS_ENDPOINT_URL_"):
            del os.environ[name]
    os.environ.update({**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
    aws.clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        aws.clear()
