"""samconfig.toml against infra/template.yaml: what sam build, sam deploy and sam sync read, and
SAM CLI itself reading it (sam validate; sam local invoke where Docker runs)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import CAPABILITIES, TEMPLATE
from infra.functions import FUNCTIONS, INGEST
from tests.infra.test_lambda_conventions import sam_cli

ROOT = Path(__file__).resolve().parents[2]
SAMCONFIG = ROOT / "samconfig.toml"
BUILT = ".aws-sam/build/template.yaml"  # where sam build writes, and sam deploy reads


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return tomllib.loads(SAMCONFIG.read_text())


def section(config: dict[str, Any], command: str) -> dict[str, Any]:
    parameters: dict[str, Any] = config["default"][command]["parameters"]
    return parameters


def overrides(text: str) -> dict[str, str]:
    """SAM CLI's parameter_overrides string: Key=Value items, shell-quoted where needed."""
    return dict(item.split("=", 1) for item in shlex.split(text))


def test_version_and_stack(config: dict[str, Any]) -> None:
    assert config["version"] == 0.1
    assert section(config, "global")["stack_name"] == "thumbstat"
    assert "region" not in json.dumps(config)  # from the environment or the profile


@pytest.mark.parametrize("command", ["build", "validate", "sync"])
def test_commands_that_read_the_source_template_name_it(
    config: dict[str, Any], command: str
) -> None:
    assert (ROOT / section(config, command)["template_file"]).resolve() == TEMPLATE


def test_deploy_reads_what_sam_build_wrote(config: dict[str, Any]) -> None:
    """Deploying the source template would deploy empty ImageUri parameters."""
    assert section(config, "deploy")["template_file"] == BUILT


@pytest.mark.parametrize("command", ["deploy", "sync"])
def test_capabilities_are_what_make_deploy_passes(config: dict[str, Any], command: str) -> None:
    assert tuple(section(config, command)["capabilities"].split()) == CAPABILITIES


def test_the_template_needs_no_named_iam(template: dict[str, Any]) -> None:
    """CAPABILITY_IAM suffices only while no IAM resource is given a name of its own."""
    names = {"RoleName", "ManagedPolicyName", "UserName", "GroupName", "PolicyName"}
    for name, resource in template["Resources"].items():
        if resource["Type"].startswith("AWS::IAM::") and resource["Type"] != "AWS::IAM::Policy":
            assert not names & set(resource.get("Properties", {})), name


def test_deploy_makes_its_image_repositories(config: dict[str, Any]) -> None:
    deploy = section(config, "deploy")
    assert deploy["resolve_image_repos"] is True
    assert "image_repositories" not in deploy and "image_repository" not in deploy


@pytest.mark.parametrize("command", ["deploy", "sync", "local_invoke"])
def test_overrides_name_real_parameters_with_allowed_values(
    config: dict[str, Any], template: dict[str, Any], command: str
) -> None:
    given = overrides(section(config, command)["parameter_overrides"])
    assert given
    parameters = template["Parameters"]
    for name, value in given.items():
        assert name in parameters, name
        declared = parameters[name]
        if "AllowedValues" in declared:
            assert value in [str(v) for v in declared["AllowedValues"]], name
        if "AllowedPattern" in declared:
            assert re.fullmatch(declared["AllowedPattern"], value), name
    # sam build puts each built image in Code.ImageUri: the parameters must stay empty.
    assert not {f.image_parameter for f in FUNCTIONS} & set(given)


def test_the_overrides_are_the_templates_defaults(
    config: dict[str, Any], template: dict[str, Any]
) -> None:
    """Listed to be changed in one place; as committed, they deploy what make deploy does."""
    given = overrides(section(config, "deploy")["parameter_overrides"])
    assert given == {k: str(template["Parameters"][k]["Default"]) for k in given}


def sam_environment(home: Path) -> dict[str, str]:
    # No telemetry, no credentials; a region, as sam validate needs one.
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def require_sam() -> str:
    sam = sam_cli()
    if sam is None:
        reason = "no SAM CLI: python3 -m venv .venv-sam && .venv-sam/bin/pip install aws-sam-cli"
        if os.environ.get("CI"):
            pytest.fail(f"CI installs SAM CLI (.ci/run): {reason}", pytrace=False)
        pytest.skip(reason)
    return sam


@pytest.mark.slow
def test_sam_reads_it(tmp_path: Path) -> None:
    """sam validate without arguments: the template and --lint come from samconfig.toml."""
    result = subprocess.run(
        [require_sam(), "validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=sam_environment(tmp_path),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{TEMPLATE} is a valid SAM Template" in result.stdout + result.stderr


def docker_running() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run([docker, "info"], capture_output=True, timeout=60, check=False)
    return probe.returncode == 0


@pytest.mark.slow
def test_sam_local_invoke_runs_an_event_file(tmp_path: Path) -> None:
    """sam build, then sam local invoke with an event of tests/events, as docs/deploy.md says.
    Ingest's GET of a day answers without reaching AWS only if DynamoDB answers: pointed at an
    endpoint where nothing listens, the function's error document comes back, which still shows
    SAM built the image, ran it under its emulator and passed the event in."""
    sam = require_sam()
    if not docker_running():
        # Not failed under CI=true: CI's machines build images with podman, and have no Docker
        # engine for SAM CLI to drive.
        pytest.skip("no Docker engine running (docker info fails); not required, even with CI=true")
    environment = sam_environment(tmp_path)
    build_dir = tmp_path / "build"
    built = subprocess.run(
        [sam, "build", "--build-dir", str(build_dir), INGEST.logical_id],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environment,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    variables = tmp_path / "env.json"
    variables.write_text(
        json.dumps({INGEST.logical_id: {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}})
    )
    invoked = subprocess.run(
        [
            sam,
            "local",
            "invoke",
            INGEST.logical_id,
            "--template-file",
            str(build_dir / "template.yaml"),
            "--event",
            "tests/events/function-url-get.json",
            "--env-vars",
            str(variables),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
    )
    answer = json.loads(invoked.stdout.strip().splitlines()[-1])
    assert "statusCode" in answer or "errorType" in answer, invoked.stdout + invoked.stderr
    assert "REPORT RequestId" in invoked.stderr
