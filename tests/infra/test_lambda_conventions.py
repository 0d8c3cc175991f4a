"""infra/template.yaml and Lambda's own conventions: JSON logs at a chosen level, X-Ray tracing as
a parameter, the queue's visibility timeout derived from the function's, and what SAM CLI needs
(``sam build`` metadata, ``sam validate --lint``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.validate import ParamValidator
from moto.iam.aws_managed_policies import aws_managed_policies_data

from infra.deploy import TEMPLATE
from infra.functions import FUNCTIONS, RESIZE, Function
from tests.infra.test_template import Template, as_list, deploy, filled, statements

ROOT = Path(__file__).resolve().parents[2]
SQS_MAX_VISIBILITY_S = 43_200  # 12 hours
XRAY_POLICY = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"}
ROLES = ("ResizeRole", "IngestRole")


def test_queue_visibility_is_six_times_every_allowed_resize_timeout(template: Template) -> None:
    queue = template["Resources"]["UploadQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == {
        "Fn::FindInMap": ["QueueVisibility", {"Ref": RESIZE.timeout_parameter}, "Seconds"]
    }
    timeout = template["Parameters"][RESIZE.timeout_parameter]
    mapping = template["Mappings"]["QueueVisibility"]
    assert set(mapping) == {str(value) for value in timeout["AllowedValues"]}
    for value in timeout["AllowedValues"]:
        seconds = mapping[str(value)]["Seconds"]
        assert 6 * value <= seconds <= SQS_MAX_VISIBILITY_S, value
    assert mapping[str(timeout["Default"])]["Seconds"] == 6 * RESIZE.timeout_s == 180


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_functions_log_json_at_the_chosen_levels_and_trace_as_chosen(
    template: Template, function: Function
) -> None:
    properties = template["Resources"][function.logical_id]["Properties"]
    logging = properties["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == {"Ref": "ApplicationLogLevel"}
    assert logging["SystemLogLevel"] == {"Ref": "SystemLogLevel"}
    assert properties["TracingConfig"] == {"Mode": {"Ref": "Tracing"}}
    parameters = template["Parameters"]
    assert parameters["ApplicationLogLevel"]["Default"] == "INFO"
    assert parameters["Tracing"]["AllowedValues"] == ["PassThrough", "Active"]
    assert parameters["Tracing"]["Default"] == "PassThrough"


def test_xray_may_be_written_only_with_active_tracing(template: Template) -> None:
    assert template["Conditions"]["ActiveTracing"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}
    for name in ROLES:
        role = template["Resources"][name]["Properties"]
        assert role["ManagedPolicyArns"] == {
            "Fn::If": ["ActiveTracing", [XRAY_POLICY], {"Ref": "AWS::NoValue"}]
        }
    actions = {a for _, s in statements(template) for a in as_list(s["Action"])}
    assert not any(action.startswith("xray:") for action in actions)
    # moto's CloudFormation attaches no managed policy; its copy of AWS's says what this one grants.
    managed = json.loads(aws_managed_policies_data)["AWSXrayWriteOnlyAccess"]["Document"]
    [grant] = managed["Statement"]
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= set(grant["Action"])


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_sam_builds_each_function_from_its_dockerfile(
    template: Template, function: Function
) -> None:
    metadata = template["Resources"][function.logical_id]["Metadata"]
    assert metadata["Dockerfile"] == function.dockerfile
    context = (
        TEMPLATE.parent / metadata["DockerContext"]
    )  # relative to the template, as SAM reads it
    assert context.resolve() == ROOT
    assert (context / metadata["Dockerfile"]).is_file()
    assert metadata["DockerTag"]


@pytest.mark.parametrize(
    ("parameters", "visibility", "active"),
    [
        ({}, "180", False),
        ({"Tracing": "Active", "ResizeTimeout": "60", "ApplicationLogLevel": "ERROR"}, "360", True),
    ],
    ids=["defaults", "active-tracing-60s-errors-only"],
)
def test_tracing_logging_and_timeouts_deploy_to_moto(
    aws_env: str,
    moto_template: Path,
    template: Template,
    unique: str,
    parameters: dict[str, str],
    visibility: str,
    active: bool,
) -> None:
    """moto's CloudFormation creates the queue and the roles as configured, but keeps no
    function's LoggingConfig or TracingConfig (nor does its UpdateFunctionConfiguration): those,
    resolved against the deployed stack, are checked against botocore's model of the Lambda API."""
    stack = deploy(moto_template, unique, **parameters)
    outputs = stack["outputs"]
    queue = boto3.client("sqs").get_queue_attributes(
        QueueUrl=outputs["UploadQueueUrl"], AttributeNames=["VisibilityTimeout"]
    )
    assert queue["Attributes"]["VisibilityTimeout"] == visibility
    refs = {
        **{k: str(v["Default"]) for k, v in template["Parameters"].items() if "Default" in v},
        **parameters,
        **{name: r["PhysicalResourceId"] for name, r in stack["resources"].items()},
    }
    lambda_ = boto3.client("lambda")
    shape = lambda_.meta.service_model.operation_model("UpdateFunctionConfiguration").input_shape
    assert shape is not None
    for function in FUNCTIONS:
        properties = template["Resources"][function.logical_id]["Properties"]
        name = outputs[function.output]
        request = {
            "FunctionName": name,
            "LoggingConfig": filled(properties["LoggingConfig"], refs),
            "TracingConfig": filled(properties["TracingConfig"], refs),
        }
        report = ParamValidator().validate(request, shape)
        assert not report.has_errors(), report.generate_report()
        assert request["TracingConfig"] == {"Mode": "Active" if active else "PassThrough"}
        level = parameters.get("ApplicationLogLevel", "INFO")
        assert request["LoggingConfig"]["ApplicationLogLevel"] == level
        assert lambda_.get_function_configuration(FunctionName=name)["Role"].endswith(
            stack["resources"][f"{function.name.capitalize()}Role"]["PhysicalResourceId"]
        )


def sam_cli() -> str | None:
    """SAM CLI on PATH, or in .venv-sam (where .ci/run installs it)."""
    local = ROOT / ".venv-sam" / "bin" / "sam"
    return shutil.which("sam") or (str(local) if local.exists() else None)


@pytest.mark.slow
def test_sam_validate_lint_is_clean(tmp_path: Path) -> None:
    sam = sam_cli()
    if sam is None:
        reason = "no SAM CLI: python3 -m venv .venv-sam && .venv-sam/bin/pip install aws-sam-cli"
        if os.environ.get("CI"):
            pytest.fail(f"CI installs SAM CLI (.ci/run): {reason}", pytrace=False)
        pytest.skip(reason)
    # No telemetry, no credentials, no network: validate --lint runs cfn-lint locally.
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(
        [sam, "validate", "--lint", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr
