"""make deploy without a region or without credentials: one line saying what is missing and how
to set it, and a non-zero exit, from a real process in an empty environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.deploy import NO_CREDENTIALS, NO_REGION

ROOT = Path(__file__).resolve().parents[2]


def deploy(home: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """python -m infra.deploy with HOME empty (no ~/.aws) and only the AWS_* variables given."""
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), **variables}
    return subprocess.run(
        [sys.executable, "-m", "infra.deploy", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, NO_REGION),
        ({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}, NO_REGION),
        ({"AWS_REGION": "eu-west-1"}, NO_CREDENTIALS),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, NO_CREDENTIALS),
    ],
    ids=["nothing", "credentials-no-region", "region-no-credentials", "default-region-only"],
)
@pytest.mark.parametrize("command", ["deploy", "deploy-code", "destroy"])
def test_missing_setup_is_one_line_and_a_failure(
    tmp_path: Path, variables: dict[str, str], expected: str, command: str
) -> None:
    result = deploy(tmp_path, command, **variables)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [expected]
    assert "Traceback" not in result.stderr


def test_each_line_names_the_variable_that_fixes_it() -> None:
    assert "AWS_REGION=" in NO_REGION and "AWS_DEFAULT_REGION" in NO_REGION
    assert "AWS_ACCESS_KEY_ID" in NO_CREDENTIALS and "AWS_PROFILE" in NO_CREDENTIALS


def test_with_both_an_unreachable_endpoint_is_one_line_too(tmp_path: Path) -> None:
    """Past the check, what botocore raises (here: nothing listens) is still one line."""
    result = deploy(
        tmp_path,
        "deploy",
        AWS_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="x",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_MAX_ATTEMPTS="1",
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("deploy: Could not connect to the endpoint URL")


def test_make_deploy_adds_only_makes_own_line(tmp_path: Path) -> None:
    """Through the Makefile (never reinstalling .venv from here: -o): the tool's line, then the
    line make prints for any failed recipe."""
    if shutil.which("make") is None:
        pytest.skip("no make")
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "deploy"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    first, make_line = result.stderr.splitlines()
    assert first == NO_REGION
    assert make_line.startswith("make: *** [") and make_line.endswith("Error 2")
