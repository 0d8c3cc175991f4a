"""Lambda's Invoke API on the local stack's invoke endpoints: each function by its name or ARN
from either port, as ``aws lambda invoke --function-name`` calls it (botocore over real HTTP, and
the AWS CLI itself where installed), and Lambda's answers for a name it does not have."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from devstack.invoke import PATH, function_name
from devstack.stack import EmbeddedStack, embedded
from infra.functions import FUNCTIONS, INGEST, RESIZE

ROOT = Path(__file__).resolve().parents[2]
GET_A_DAY = ROOT / "tests" / "events" / "function-url-get.json"


@pytest.fixture(scope="module")
def stack(module_moto: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    log = tmp_path_factory.mktemp("logs") / "functions.log"
    with (
        log.open("wb") as sink,
        embedded(endpoint=module_moto, invoke_port=0, log=sink) as running,
    ):
        yield running


def lambda_at(url: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=url.removesuffix(PATH),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.mark.parametrize("port_of", FUNCTIONS, ids=lambda f: f"{f.name}-port")
@pytest.mark.parametrize(
    "name",
    [
        INGEST.local_name,
        f"{INGEST.local_name}:$LATEST",
        f"123456789012:function:{INGEST.local_name}",
        f"arn:aws:lambda:us-east-1:123456789012:function:{INGEST.local_name}",
    ],
    ids=["name", "latest", "partial-arn", "arn"],
)
def test_ingest_by_name_from_either_port(stack: EmbeddedStack, port_of: Any, name: str) -> None:
    before = len(stack.functions[INGEST.name].reports)
    answer = lambda_at(stack.invoke_urls[port_of.name]).invoke(
        FunctionName=name, Payload=GET_A_DAY.read_bytes()
    )
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    payload = json.loads(answer["Payload"].read())
    assert payload["statusCode"] == 200
    assert json.loads(payload["body"])["readings"] == []
    assert len(stack.functions[INGEST.name].reports) == before + 1  # ingest ran, not resize


def test_resize_by_name_answers_its_error_document(stack: EmbeddedStack) -> None:
    """An S3 record without its object: the function's own error, as Lambda reports it."""
    broken = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}
    answer = lambda_at(stack.invoke_urls[INGEST.name]).invoke(
        FunctionName=RESIZE.local_name, Payload=json.dumps(broken).encode()
    )
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "Unreadable"


@pytest.mark.parametrize(
    ("name", "qualifier"),
    [
        ("thumbstat-other", None),
        ("function-url", None),
        (f"{INGEST.local_name}:1", None),
        (INGEST.local_name, "live"),
    ],
    ids=["unknown", "near-miss", "version", "alias-qualifier"],
)
def test_a_function_it_does_not_have_is_resource_not_found(
    stack: EmbeddedStack, name: str, qualifier: str | None
) -> None:
    client = lambda_at(stack.invoke_urls[INGEST.name])
    extra = {"Qualifier": qualifier} if qualifier else {}
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="Function not found"):
        client.invoke(FunctionName=name, Payload=b"{}", **extra)


def test_event_and_dry_run_invocations(stack: EmbeddedStack) -> None:
    client = lambda_at(stack.invoke_urls[INGEST.name])
    dry = client.invoke(FunctionName=INGEST.local_name, InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204
    queued = client.invoke(
        FunctionName=INGEST.local_name, InvocationType="Event", Payload=GET_A_DAY.read_bytes()
    )
    assert queued["StatusCode"] == 202


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("thumbstat-ingest", "thumbstat-ingest"),
        ("thumbstat-ingest:$LATEST", "thumbstat-ingest"),
        ("thumbstat-ingest:2", None),
        ("1:function:thumbstat-ingest", "thumbstat-ingest"),
        ("arn:aws:lambda:eu-west-1:1:function:thumbstat-ingest:$LATEST", "thumbstat-ingest"),
        ("arn:aws:lambda:eu-west-1:1:function:thumbstat-ingest:live", None),
        ("arn:aws:lambda:eu-west-1:1:function", None),
    ],
)
def test_function_names(given: str, expected: str | None) -> None:
    assert function_name(given) == expected


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_the_aws_cli_invokes_both_names(
    stack: EmbeddedStack, function: Any, tmp_path: Path
) -> None:
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("no aws CLI on PATH (botocore's calls above are the same requests)")
    payload = GET_A_DAY if function is INGEST else ROOT / "tests" / "events" / "s3-test-event.json"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }
    out = tmp_path / "answer.json"
    result = subprocess.run(
        [
            aws,
            "lambda",
            "invoke",
            "--endpoint-url",
            stack.invoke_urls[INGEST.name].removesuffix(PATH),
            "--function-name",
            function.local_name,
            "--payload",
            f"fileb://{payload}",
            str(out),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["StatusCode"] == 200
    assert "FunctionError" not in json.loads(result.stdout)
