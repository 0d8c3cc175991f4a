"""What a cold start imports: each handler's module, imported in a fresh interpreter, loads
botocore (Init, where Lambda's CPU is not yet throttled to the memory size's share, is the place
for the import every invocation needs) and nothing its first invocation does not need: no image
code in ingest, no chart or summary before a read route asks, no codec before a file needs it.
The AWS clients are made once per container, on first use, where AWS_ENDPOINT_URL says."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handlers.common import aws

ROOT = Path(__file__).resolve().parents[3]

# botocore, which every invocation's AWS calls need, and boto3, which nothing does.
BOTOCORE = ("botocore",)
BOTO3 = ("boto3",)
# Never in ingest: the image code and its codecs (the ingest image has no Pillow at all).
IMAGE_CODE = ("PIL", "pillow_heif", "pyvips", "handlers.imaging", "handlers.index")
# ingest's read routes import these when asked (handlers.readings.history).
READ_ROUTES_ONLY = ("handlers.readings.chart", "handlers.readings.summary", "xml.sax", "statistics")
# resize loads these with the first file that needs them (handlers.imaging.decode, vips).
FIRST_USE_CODECS = ("pillow_heif", "pyvips", "PIL.AvifImagePlugin")


def modules_after_import(module: str) -> set[str]:
    """The modules loaded by importing ``module`` in a fresh interpreter (as awslambdaric does)."""
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout))


def loaded(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == r or m.startswith(f"{r}.") for r in roots))


def test_importing_ingest_loads_botocore_but_no_image_code_and_no_read_route_cores() -> None:
    modules = modules_after_import("handlers.ingest")
    assert "handlers.readings.store" in modules  # the check sees what it should
    assert "botocore.session" in modules and loaded(modules, BOTO3) == []
    assert loaded(modules, IMAGE_CODE) == []
    assert loaded(modules, READ_ROUTES_ONLY) == []


def test_importing_resize_loads_botocore_and_no_first_use_codecs() -> None:
    modules = modules_after_import("handlers.resize")
    assert "PIL.Image" in modules  # its first invocation renders: Pillow is loaded at init
    assert "botocore.session" in modules and loaded(modules, BOTO3) == []
    assert loaded(modules, FIRST_USE_CODECS) == []


@pytest.fixture
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """No client yet, fake credentials, and an endpoint of our own; yields the endpoint."""
    endpoint = "http://127.0.0.1:4599"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    aws.clear()
    yield endpoint
    aws.clear()


def test_each_client_is_made_once_on_first_use_where_aws_endpoint_url_says(
    fresh_clients: str,
) -> None:
    s3, dynamodb = aws.s3(), aws.dynamodb()
    assert aws.s3() is s3 and aws.dynamodb() is dynamodb
    assert s3.meta.endpoint_url == dynamodb.meta.endpoint_url == fresh_clients
    config: Any = s3.meta.config  # botocore sets its options as attributes
    assert config.retries == {"mode": "standard"}
    assert (config.connect_timeout, config.read_timeout) == (5, 30)
    aws.clear()
    assert aws.s3() is not s3  # clear() forgets them


def test_a_client_s_retry_setting_does_not_reach_the_next_one(
    fresh_clients: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore writes AWS_MAX_ATTEMPTS into the retries it is given: each client has its own."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    first: Any = aws.s3().meta.config
    assert first.retries == {"mode": "standard", "total_max_attempts": 1}
    aws.clear()
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    later: Any = aws.s3().meta.config
    assert later.retries == {"mode": "standard"}
