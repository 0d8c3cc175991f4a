"""AWS clients: one of each per container, created on first use.

Lazy creation lets a test start moto's server (or set AWS_ENDPOINT_URL) before a client exists;
``clear()`` drops them. botocore honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) by
itself, so the same code runs against AWS, LocalStack and moto.

In the images (and the embedded stack's function processes) ``AWS_DATA_PATH`` puts trimmed service
models first on botocore's search path: these clients then have only the operations the handlers
call. infra/botocore_models.py finds them in the source (a method called on one of the clients
below, on a name bound to one, or on a parameter annotated with its type) and generates the models
at build time; a client passed around any other way would hide its calls from it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, cast

import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


def _config() -> Config:
    """The clients' configuration, a new one for each client: botocore writes the
    AWS_MAX_ATTEMPTS it reads into the ``retries`` dict it is given, so a shared one would carry
    one client's setting to every later one. Standard retry mode retries throttling and 5xx with
    backoff; short timeouts keep a stuck connection from eating a function's whole timeout."""
    return Config(
        retries={"mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        tcp_keepalive=True,
    )


@cache
def _session() -> botocore.session.Session:
    # botocore directly, not boto3: the same clients, ~40 ms less cold start (boto3's import).
    return botocore.session.get_session()


@cache
def s3() -> S3Client:
    return cast("S3Client", _session().create_client("s3", config=_config()))


@cache
def dynamodb() -> DynamoDBClient:
    return cast("DynamoDBClient", _session().create_client("dynamodb", config=_config()))


def clear() -> None:
    """Forget every client and the session (tests call this when they change endpoints or
    credentials)."""
    for factory in (s3, dynamodb, _session):
        factory.cache_clear()
