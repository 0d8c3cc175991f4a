"""docker-compose.yml cannot run here (no Docker engine); these tests keep it honest: it follows
the Compose Specification's schema (everywhere), a real compose parser accepts it (Debian's
docker-compose: CI installs it, elsewhere the test is skipped without it), what it builds exists,
and it configures the functions and creates the resources exactly as the embedded stack does.
The ready hook it mounts runs for real, in LocalStack, in the localstack tier (tests/localstack)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack import resources
from infra.functions import FUNCTIONS, Function
from tests.packaging import closure
from tests.packaging.test_images import stages

ROOT = Path(__file__).resolve().parents[2]
READY = ROOT / "devstack/localstack/ready.sh"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_a_real_compose_parser_accepts_it() -> None:
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (.ci/run installs it with apt)")
        pytest.skip("docker-compose (Debian package docker-compose) is not installed")
    result = subprocess.run(
        [docker_compose, "--profile", "bench", "-f", "docker-compose.yml", "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the Compose Specification's JSON schema it ships."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "check_jsonschema"),
            *("--builtin-schema", "vendor.compose-spec", str(path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_follows_the_compose_specification(tmp_path: Path) -> None:
    if importlib.util.find_spec("check_jsonschema") is None:
        # In the dev extra: only a virtualenv older than pyproject.toml lacks it.
        if os.environ.get("CI"):
            pytest.fail("check-jsonschema is not installed (the dev extra has it)")
        pytest.skip("check-jsonschema is not installed in this virtualenv: make install")
    result = check_schema(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    # The same check refuses a misspelt key, so a pass above means something.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((ROOT / "docker-compose.yml").read_text().replace("interval:", "intervall:"))
    refused = check_schema(broken)
    assert refused.returncode == 1 and "intervall" in refused.stdout


def test_every_build_names_an_existing_dockerfile_and_target(compose: dict[str, Any]) -> None:
    builds = {name: s["build"] for name, s in compose["services"].items() if "build" in s}
    assert set(builds) == {"resize", "ingest", "router"}
    for function in FUNCTIONS:
        assert builds[function.name] == {
            "context": ".",
            "dockerfile": function.dockerfile,
            "target": "local",
        }
        assert "local" in stages(function.dockerfile)
    assert builds["router"] == {"context": ".", "dockerfile": "devstack/Dockerfile.router"}
    assert (ROOT / builds["router"]["dockerfile"]).is_file()


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_functions_are_configured_as_in_the_embedded_stack(
    compose: dict[str, Any], function: Function
) -> None:
    service = function.name
    env = compose["services"][service]["environment"]
    assert {k: env[k] for k in function.environment} == function.environment
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(function.memory_mb)
    assert env["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert compose["services"][service]["depends_on"]["localstack"] == {
        "condition": "service_healthy"
    }


def test_router_polls_the_queue_the_bucket_notifies(compose: dict[str, Any]) -> None:
    command = compose["services"]["router"]["command"]
    assert command[command.index("--queue-name") + 1] == resources.QUEUE
    assert "http://resize:8080" in command and "http://ingest:8080" in command


def test_localstack_is_pinned_and_takes_a_token(compose: dict[str, Any]) -> None:
    localstack = compose["services"]["localstack"]
    assert localstack["image"] == "localstack/localstack:4.14.0"
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
    assert "healthcheck" in localstack
    assert compose["services"]["bench"]["profiles"] == ["bench"]


def test_ready_hook_is_generated_from_the_definitions() -> None:
    """The hook is the embedded stack's resources rendered as a script: regenerate it with
    `make localstack-hook` after changing devstack/resources.py or a table definition."""
    assert READY.read_text() == resources.ready_hook()


def test_the_hook_uses_the_aws_cli_with_the_endpoint() -> None:
    """Plain `aws --endpoint-url` (awslocal prints a deprecation banner on LocalStack 4.14), an
    executable script with a shebang as LocalStack's init runner needs, valid shell."""
    hook = READY.read_text()
    calls = [line for line in hook.splitlines() if re.search(r"(^|\$\()aws ", line)]
    assert len(calls) == len(resources.TABLES) + 6  # tables; 2 queues, 2 ARNs; bucket, notification
    assert all('aws --endpoint-url "$endpoint" ' in line for line in calls)
    assert "awslocal" not in hook
    assert 'endpoint="${AWS_ENDPOINT_URL:-http://localhost:4566}"' in hook
    assert hook.startswith("#!/bin/bash\n") and os.access(READY, os.X_OK)
    assert subprocess.run(["bash", "-n", str(READY)], timeout=30).returncode == 0


def test_compose_mounts_the_generated_hook(compose: dict[str, Any]) -> None:
    mounts = compose["services"]["localstack"]["volumes"]
    assert "./devstack/localstack/ready.sh:/etc/localstack/init/ready.d/thumbstat.sh:ro" in mounts


def _module_level_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it is imported (not inside functions: the router's
    embedded-stack extras are imported where used, and the compose router never uses them)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_router_image_copies_exactly_what_the_router_imports(tmp_path: Path) -> None:
    """The COPY list against the router's own-code import closure, and the router started from a
    folder holding only the copied files, as in its image."""
    dockerfile = ROOT / "devstack" / "Dockerfile.router"
    copied = {
        source
        for line in closure.instructions(dockerfile)
        if line.split()[0] == "COPY" and "requirements/" not in line
        for source in line.split()[1:-1]
    }
    needed, pending = set(), ["devstack.router"]
    while pending:
        module = pending.pop()
        for candidate in (
            f"{module.replace('.', '/')}.py",
            f"{module.replace('.', '/')}/__init__.py",
        ):
            if (ROOT / candidate).is_file() and candidate not in needed:
                needed.add(candidate)
                pending.extend(_module_level_imports(ROOT / candidate))
        package = module.rpartition(".")[0]
        if package:
            pending.append(package)
    assert copied == needed

    for source in copied:
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, tmp_path / source)
    started = subprocess.run(
        [sys.executable, "-m", "devstack.router", "--help"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
