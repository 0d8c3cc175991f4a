"""The container images, kept honest without Docker: lint the Dockerfiles, then rebuild each
image's contents on the host (its pinned requirement set in a fresh directory, the package,
precompiled) and run it under awslambdaric against the local Runtime API."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from devstack.runtime import FunctionProcess, Interpreter
from handlers import tables
from tests import events

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ["resize", "ingest"]


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "Dockerfile.resize", "Dockerfile.ingest"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def stages(dockerfile: str) -> dict[str, list[str]]:
    """Instructions per named stage."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in (ROOT / dockerfile).read_text().splitlines():
        if match := re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line):
            current = match.group(1)
            found[current] = [line]
        elif line and not line.startswith("#") and current:
            found[current].append(line)
    return found


@pytest.mark.parametrize("function", FUNCTIONS)
def test_dockerfile_shape(function: str) -> None:
    text = (ROOT / f"Dockerfile.{function}").read_text()
    assert "ARG PYTHON_IMAGE=python:3.12-slim-bookworm" in text
    found = stages(f"Dockerfile.{function}")
    assert list(found)[-1] == "runtime"  # the default target is what Lambda runs
    assert found["runtime"][-2:] == [
        'ENTRYPOINT ["python", "-m", "awslambdaric"]',
        f'CMD ["handlers.{function}.handler"]',
    ]
    assert "USER 10001" in found["base"]  # non-root, inherited by runtime and local
    assert any("compileall" in line for line in found["build"])
    assert f"COPY requirements/{function}.txt /tmp/requirements.txt" in found["build"]
    assert "docker/lambda-entrypoint.sh" in "\n".join(found["local"])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_requirements_are_pinned_and_minimal(function: str) -> None:
    lines = [
        line
        for line in (ROOT / f"requirements/{function}.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][^\s]*", line) for line in lines), lines
    names = {line.split("==")[0].lower() for line in lines}
    assert {"awslambdaric", "botocore"} <= names
    assert ("pillow" in names) == (function == "resize")
    assert "boto3" not in names  # the handlers need botocore only


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The image's /opt/function, rebuilt on the host as the build stage does it."""
    built: dict[str, Path] = {}

    def build(function: str) -> Path:
        if function not in built:
            target = tmp_path_factory.mktemp(function) / "function"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--only-binary=:all:",
                    "--target",
                    str(target),
                    "-r",
                    str(ROOT / f"requirements/{function}.txt"),
                ],
                check=True,
                timeout=600,
            )
            shutil.copytree(
                ROOT / "handlers", target / "handlers", ignore=shutil.ignore_patterns("__pycache__")
            )
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "compileall",
                    "-q",
                    "--invalidation-mode",
                    "unchecked-hash",
                    str(target),
                ],
                check=True,
                timeout=300,
            )
            built[function] = target
        return built[function]

    return build


def image_process(root: Path, function: str, environment: dict[str, str]) -> FunctionProcess:
    # -S: no site-packages, so only the image's own directory and the standard library count.
    return FunctionProcess(
        f"image-{function}",
        f"handlers.{function}.handler",
        cwd=root,
        memory_mb=128,
        environment={**environment, "PYTHONPATH": str(root)},
        launcher=Interpreter(flags=["-S"]),
    )


def test_ingest_image_has_no_pillow(image_root: Callable[[str], Path]) -> None:
    root = image_root("ingest")
    probe = subprocess.run(
        [sys.executable, "-S", "-c", "import PIL"],
        cwd=root,
        env={"PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )
    assert "No module named 'PIL'" in probe.stderr


def test_ingest_image_runs_under_awslambdaric(
    image_root: Callable[[str], Path], aws_env: str, unique: str
) -> None:
    table = f"Shop_Thermostat-{unique}"
    boto3.client("dynamodb").create_table(**tables.create_table_request(tables.READINGS, table))
    function = image_process(image_root("ingest"), "ingest", {"READINGS_TABLE": table})
    try:
        answer, report = function.invoke(events.load("function-url-post"))
    finally:
        function.close()
    assert answer["statusCode"] == 201
    assert report.init_duration_ms is not None
    assert boto3.client("dynamodb").scan(TableName=table)["Count"] == 1


def test_resize_image_runs_under_awslambdaric(
    image_root: Callable[[str], Path],
    aws_env: str,
    unique: str,
    read_image: Callable[[str], bytes],
) -> None:
    bucket, table = f"uploads-{unique}", f"image_metadata-{unique}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    boto3.client("dynamodb").create_table(**tables.create_table_request(tables.IMAGE_INDEX, table))
    s3.put_object(Bucket=bucket, Key="uploads/cat.jpg", Body=read_image("flowers.jpeg"))
    head = s3.head_object(Bucket=bucket, Key="uploads/cat.jpg")
    record = events.s3_record(
        bucket,
        "uploads/cat.jpg",
        etag=head["ETag"].strip('"'),
        size=head["ContentLength"],
        sequencer="1",
    )
    function = image_process(image_root("resize"), "resize", {"INDEX_TABLE": table})
    try:
        answer, _ = function.invoke(events.sqs_event(events.s3_event(record)))
    finally:
        function.close()
    assert answer == {"batchItemFailures": []}
    assert (
        s3.head_object(Bucket=bucket, Key="thumbnails/200/cat.jpg.jpg")["ContentType"]
        == "image/jpeg"
    )
