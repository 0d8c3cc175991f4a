"""The S3 Batch Operations role of infra/template.yaml: who may assume it, exactly what it may do,
and that moto's server deploys it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3

from tests.infra.test_template import as_list, deploy, statements

Template = dict[str, Any]
ROLE = "BatchOperationsRole"
MANIFESTS = {"Fn::Sub": "${UploadBucket.Arn}/${BatchManifestPrefix}*"}
REPORTS = {"Fn::Sub": "${UploadBucket.Arn}/${BatchReportPrefix}*"}


def test_only_batch_operations_may_assume_it(template: Template) -> None:
    trust = template["Resources"][ROLE]["Properties"]["AssumeRolePolicyDocument"]
    [statement] = trust["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }


def test_it_may_invoke_resize_read_manifests_and_write_reports_only(template: Template) -> None:
    granted = {
        (action, json.dumps(resource, sort_keys=True))
        for owner, statement in statements(template)
        if owner == ROLE
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    assert all(s["Effect"] == "Allow" for o, s in statements(template) if o == ROLE)
    assert "ManagedPolicyArns" not in template["Resources"][ROLE]["Properties"]
    expected = [
        ("lambda:InvokeFunction", {"Fn::GetAtt": ["ResizeFunction", "Arn"]}),
        ("s3:GetObject", MANIFESTS),
        ("s3:GetObjectVersion", MANIFESTS),
        ("s3:PutObject", REPORTS),
        ("s3:GetBucketLocation", {"Fn::GetAtt": ["UploadBucket", "Arn"]}),
    ]
    assert granted == {(a, json.dumps(r, sort_keys=True)) for a, r in expected}


def test_the_batch_prefixes_are_apart_from_sources_and_thumbnails(template: Template) -> None:
    """A manifest or report under SOURCE_PREFIX would be an upload to thumbnail; under the
    thumbnail prefix, a rendition to delete. Defaults only: the parameters cannot compare."""
    parameters = template["Parameters"]
    defaults = {
        name: parameters[name]["Default"]
        for name in ("SourcePrefix", "ThumbnailPrefix", "BatchManifestPrefix", "BatchReportPrefix")
    }
    for name in ("BatchManifestPrefix", "BatchReportPrefix"):
        pattern = re.compile(parameters[name]["AllowedPattern"])
        assert pattern.fullmatch(defaults[name])
        assert not pattern.fullmatch("batch/reports")  # a prefix ends with /
        assert not pattern.fullmatch("batch/*/")  # no wildcard in the policy's resource
        for other, prefix in defaults.items():
            if other != name:
                assert not prefix.startswith(defaults[name]), (name, other)
                assert not defaults[name].startswith(prefix), (name, other)


def test_the_role_is_a_stack_output(template: Template) -> None:
    outputs = template["Outputs"]
    assert outputs["BatchOperationsRoleArn"]["Value"] == {"Fn::GetAtt": [ROLE, "Arn"]}
    assert outputs["ResizeFunctionArn"]["Value"] == {"Fn::GetAtt": ["ResizeFunction", "Arn"]}


def test_moto_deploys_the_role(aws_env: str, moto_template: Path, unique: str) -> None:
    stack = deploy(moto_template, unique)
    arn = stack["outputs"]["BatchOperationsRoleArn"]
    role = boto3.client("iam").get_role(RoleName=arn.rsplit("/", 1)[1])["Role"]
    assert role["Arn"] == arn
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    function = boto3.client("lambda").get_function_configuration(
        FunctionName=stack["outputs"]["ResizeFunctionName"]
    )
    assert stack["outputs"]["ResizeFunctionArn"] == function["FunctionArn"]
