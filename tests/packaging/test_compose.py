"""docker-compose.yml cannot run here (no Docker engine); these tests keep it honest: a real
compose parser accepts it, what it builds exists, and it configures the functions and creates
the resources exactly as the embedded stack does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack import stack
from handlers import tables
from tests.packaging.test_images import stages

ROOT = Path(__file__).resolve().parents[2]
READY = (ROOT / "infra/localstack/ready.sh").read_text()


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


def test_every_build_names_an_existing_dockerfile_and_target(compose: dict[str, Any]) -> None:
    builds = {name: s["build"] for name, s in compose["services"].items() if "build" in s}
    assert set(builds) == {"resize", "ingest", "router"}
    for build in builds.values():
        assert (ROOT / build["dockerfile"]).is_file()
        assert build["target"] in stages(build["dockerfile"])


@pytest.mark.parametrize(
    ("service", "environment"),
    [("resize", stack.RESIZE_ENVIRONMENT), ("ingest", stack.INGEST_ENVIRONMENT)],
)
def test_functions_are_configured_as_in_the_embedded_stack(
    compose: dict[str, Any], service: str, environment: dict[str, str]
) -> None:
    env = compose["services"][service]["environment"]
    assert {k: env[k] for k in environment} == environment
    assert env["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert compose["services"][service]["depends_on"]["localstack"] == {
        "condition": "service_healthy"
    }


def test_router_polls_the_queue_the_bucket_notifies(compose: dict[str, Any]) -> None:
    command = compose["services"]["router"]["command"]
    assert command[command.index("--queue-name") + 1] == stack.QUEUE
    assert "http://resize:8080" in command and "http://ingest:8080" in command


def test_localstack_is_pinned_and_takes_a_token(compose: dict[str, Any]) -> None:
    localstack = compose["services"]["localstack"]
    assert localstack["image"] == "localstack/localstack:4.14.0"
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
    assert "healthcheck" in localstack
    assert compose["services"]["bench"]["profiles"] == ["bench"]


def test_ready_hook_creates_what_the_embedded_stack_creates() -> None:
    names = dict(re.findall(r"^(\w+)=(\S+)$", READY, re.MULTILINE))
    assert (
        names["BUCKET"],
        names["QUEUE"],
        names["DEAD_LETTER_QUEUE"],
        names["SOURCE_PREFIX"],
    ) == (stack.BUCKET, stack.QUEUE, stack.DEAD_LETTER_QUEUE, stack.SOURCE_PREFIX)


@pytest.mark.parametrize(
    "definition", [tables.IMAGE_INDEX, tables.READINGS], ids=lambda d: d["TableName"]
)
def test_ready_hook_tables_match_the_definitions(definition: dict[str, Any]) -> None:
    attributes = " ".join(
        f"AttributeName={a['AttributeName']},AttributeType={a['AttributeType']}"
        for a in definition["AttributeDefinitions"]
    )
    keys = " ".join(
        f"AttributeName={k['AttributeName']},KeyType={k['KeyType']}"
        for k in definition["KeySchema"]
    )
    command = (
        f"awslocal dynamodb create-table --table-name {definition['TableName']} "
        f"--attribute-definitions {attributes} --key-schema {keys} "
        f"--billing-mode {definition['BillingMode']}"
    )
    assert command in " ".join(READY.replace("\\\n", " ").split())
