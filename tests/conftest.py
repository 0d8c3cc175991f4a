"""Fixtures shared by every test layer: the vendored image fixtures and moto's server over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from handlers.imaging import decode

# The tests encode HEIC inputs and decode AVIF and HEIF outputs themselves: the plugins the
# thumbnail core loads only when an ISOBMFF file arrives (test_heif checks that laziness in a
# fresh interpreter) are registered for the test process up front.
decode._load_isobmff_plugins()

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"
IMAGES = Path(__file__).resolve().parent / "fixtures" / "images"


@pytest.fixture(scope="session")
def images_dir() -> Path:
    """Real-world images kept in the repository (origin and licence: fixtures/images/README.md)."""
    return IMAGES


@pytest.fixture(scope="session")
def read_image(images_dir: Path) -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        return (images_dir / name).read_bytes()

    return read


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1 and a free port: real HTTP, like LocalStack."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def moto_environment(endpoint: str) -> dict[str, str]:
    """The variables that point a client (or a function process) at moto's server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point every boto3 client (ours included, created afresh) at moto's server."""
    from handlers.common import aws

    for name, value in moto_environment(moto_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws.clear()
    yield moto_server
    aws.clear()


@pytest.fixture
def unique() -> str:
    """A short unique suffix, so tests sharing one server never share a resource."""
    return uuid.uuid4().hex[:10]
