"""The container images, kept honest without Docker: lint the Dockerfiles, check that each copies
exactly its handler's import closure of handlers/, then rebuild each image's contents on the host
(its pinned requirement set in a fresh directory, that closure, precompiled) and run it under
awslambdaric against the local Runtime API. The built images are tested in tests/images."""

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
from handlers.index import settings as resize_settings
from handlers.readings import settings as ingest_settings
from infra import tables
from infra.functions import FUNCTIONS, INGEST, RESIZE, Function
from tests import events
from tests.packaging import closure

ROOT = Path(__file__).resolve().parents[2]
IDS = [function.name for function in FUNCTIONS]


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), *(function.dockerfile for function in FUNCTIONS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def stages(dockerfile: str) -> dict[str, list[str]]:
    """Instructions per named stage, continuation lines joined."""
    found: dict[str, list[str]] = {}
    current = ""
    for instruction in closure.instructions(ROOT / dockerfile):
        if match := re.match(r"FROM\s+\S+\s+AS\s+(\S+)", instruction):
            current = match.group(1)
            found[current] = [instruction]
        elif current:
            found[current].append(instruction)
    return found


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_dockerfile_shape(function: Function) -> None:
    text = (ROOT / function.dockerfile).read_text()
    assert "ARG PYTHON_IMAGE=python:3.12-slim-bookworm" in text
    found = stages(function.dockerfile)
    assert list(found)[-1] == "runtime"  # the default target is what Lambda runs
    assert found["runtime"][-2:] == [
        'ENTRYPOINT ["python", "-m", "awslambdaric"]',
        f'CMD ["{function.handler}"]',
    ]
    assert "USER 10001" in found["base"]  # non-root, inherited by runtime and local
    assert any("compileall" in line for line in found["build"])
    # Else pip's timestamp-checked bytecode stays, and only handlers/ gets unchecked hashes.
    assert any("pip install" in i and "--no-compile" in i for i in found["build"])
    assert f"COPY {function.requirements} /tmp/requirements.txt" in found["build"]
    assert "docker/lambda-entrypoint.sh" in "\n".join(found["local"])
    # The package is copied in the build stage, before compileall, so its bytecode ships too.
    copies = [i for i in found["build"] if i.startswith("COPY handlers/")]
    compiling = next(i for i, line in enumerate(found["build"]) if "compileall" in line)
    assert copies and all(found["build"].index(c) < compiling for c in copies)


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_dockerfile_copies_exactly_the_packages_the_handler_imports(function: Function) -> None:
    copies = closure.package_copies(ROOT / function.dockerfile)
    sources = [copy.source for copy in copies]
    expected = closure.shipped_files(function.module)
    missing, extra = sorted(set(expected) - set(sources)), sorted(set(sources) - set(expected))
    assert not missing and not extra, (
        f"{function.dockerfile}: missing {missing}, not imported {extra}; it copies the packages "
        f"{closure.packages(function.module)} and the top-level modules its handler imports"
    )
    assert set(closure.closure_files(function.module)) <= set(sources)
    assert len(set(sources)) == len(sources)  # no file copied twice
    # Each file lands where its import name says (the image's PYTHONPATH is FUNCTION_DIR).
    assert all(copy.destination == f"{closure.FUNCTION_DIR}/{copy.source}" for copy in copies)


# Which rooms of handlers/ each function's image holds: the layout's promise, from the import graph.
PACKAGES = {
    "resize": ["handlers.common", "handlers.imaging", "handlers.index"],
    "ingest": ["handlers.common", "handlers.readings"],
}


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_each_image_holds_only_its_own_rooms(function: Function) -> None:
    assert closure.packages(function.module) == PACKAGES[function.name]
    assert not any(
        name.startswith("handlers/device/") for name in closure.shipped_files(function.module)
    )


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_closure_imports_pillow_only_where_needed(function: Function) -> None:
    modules = closure.closure(function.module)
    importers = {module for module in modules if "PIL" in closure.external_imports([module])}
    if function.needs_pillow:
        assert importers, f"{function.name} is said to need Pillow, but imports none of it"
    else:
        assert not importers, f"{function.name} has no Pillow, but {sorted(importers)} import it"


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_closure_imports_no_project_tooling(function: Function) -> None:
    imported = closure.external_imports(closure.closure(function.module))
    assert not imported & closure.NOT_SHIPPED


def test_closure_follows_every_import_form(tmp_path: Path) -> None:
    package = tmp_path / closure.PACKAGE
    (package / "sub").mkdir(parents=True)
    sources = {
        "__init__.py": "",
        "py.typed": "",
        "entry.py": (
            "from typing import TYPE_CHECKING\n"
            "import handlers.plain\n"
            "from handlers import named\n"
            "from .relative import thing\n"
            "from handlers.sub.deep import x\n"
            "if TYPE_CHECKING:\n"
            "    from handlers import typing_only\n"
            "def later():\n"
            "    from handlers import lazy\n"
        ),
        "plain.py": "import os\n",
        "named.py": "from handlers.relative import y\n",
        "relative.py": "",
        "lazy.py": "",
        "typing_only.py": "",
        "unused.py": "",
        "sub/__init__.py": "",
        "sub/deep.py": "from .. import named\n",
    }
    for name, text in sources.items():
        (package / name).write_text(text)
    assert closure.closure_files("handlers.entry", tmp_path) == [
        f"handlers/{name}"
        for name in sorted(
            [
                "__init__.py",
                "entry.py",
                "lazy.py",
                "named.py",
                "plain.py",
                "py.typed",
                "relative.py",
                "sub/__init__.py",
                "sub/deep.py",
            ]
        )
    ]


def test_closure_refuses_computed_imports(tmp_path: Path) -> None:
    (tmp_path / closure.PACKAGE).mkdir()
    (tmp_path / closure.PACKAGE / "__init__.py").write_text("")
    (tmp_path / closure.PACKAGE / "entry.py").write_text(
        "import importlib\nimportlib.import_module('handlers.other')\n"
    )
    with pytest.raises(closure.UnfollowableImport, match=r"entry\.py:2"):
        closure.closure("handlers.entry", tmp_path)


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_requirements_are_pinned_and_minimal(function: Function) -> None:
    lines = [
        line
        for line in (ROOT / function.requirements).read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][^\s]*", line) for line in lines), lines
    names = {line.split("==")[0].lower() for line in lines}
    assert {"awslambdaric", "botocore"} <= names
    assert ("pillow" in names) == function.needs_pillow
    assert "boto3" not in names  # the handlers need botocore only


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Function], Path]:
    """The image's /opt/function, rebuilt on the host as the build stage does it: the pinned
    requirements and only the handler's closure of handlers/, so a run proves those suffice."""
    built: dict[str, Path] = {}

    def build(function: Function) -> Path:
        if function.name not in built:
            target = tmp_path_factory.mktemp(function.name) / "function"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--only-binary=:all:",
                    "--no-binary=pyvips",  # an sdist only, pure Python (as in Dockerfile.resize)
                    "--no-compile",
                    "--target",
                    str(target),
                    "-r",
                    str(ROOT / function.requirements),
                ],
                check=True,
                timeout=600,
            )
            for name in closure.shipped_files(function.module):
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, target / name)
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
            built[function.name] = target
        return built[function.name]

    return build


def image_process(root: Path, function: Function, environment: dict[str, str]) -> FunctionProcess:
    # -S: no site-packages, so only the image's own directory and the standard library count.
    return FunctionProcess(
        f"image-{function.name}",
        function.handler,
        cwd=root,
        memory_mb=128,
        environment={**environment, "PYTHONPATH": str(root)},
        launcher=Interpreter(flags=["-S"]),
    )


def test_ingest_image_has_no_pillow(image_root: Callable[[Function], Path]) -> None:
    root = image_root(INGEST)
    probe = subprocess.run(
        [sys.executable, "-S", "-c", "import PIL"],
        cwd=root,
        env={"PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )
    assert "No module named 'PIL'" in probe.stderr


def test_ingest_image_runs_under_awslambdaric(
    image_root: Callable[[Function], Path], aws_env: str, unique: str
) -> None:
    table = f"Shop_Thermostat-{unique}"
    boto3.client("dynamodb").create_table(**tables.create_table_request(tables.READINGS, table))
    function = image_process(image_root(INGEST), INGEST, {ingest_settings.READINGS_TABLE: table})
    try:
        answer, report = function.invoke(events.load("function-url-post"))
    finally:
        function.close()
    assert answer["statusCode"] == 201
    assert report.init_duration_ms is not None
    assert boto3.client("dynamodb").scan(TableName=table)["Count"] == 1


def test_resize_image_runs_under_awslambdaric(
    image_root: Callable[[Function], Path],
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
    function = image_process(image_root(RESIZE), RESIZE, {resize_settings.INDEX_TABLE: table})
    try:
        answer, _ = function.invoke(events.sqs_event(events.s3_event(record)))
    finally:
        function.close()
    assert answer == {"batchItemFailures": []}
    assert (
        s3.head_object(Bucket=bucket, Key="thumbnails/200/cat.jpg.jpg")["ContentType"]
        == "image/jpeg"
    )
