"""The deploy tool: ECR and CloudFormation calls against moto's server, Docker steps recorded."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import boto3
import pytest

from infra.deploy import (
    LIFECYCLE_POLICY,
    Deployer,
    DeployError,
    git_tag,
    main,
    print_command,
)
from infra.functions import FUNCTIONS


class Docker:
    """Records the commands the deployer would run; pushing puts an image into moto's ECR."""

    def __init__(self) -> None:
        self.commands: list[tuple[list[str], bytes | None]] = []

    def __call__(self, command: Sequence[str], stdin: bytes | None = None) -> None:
        self.commands.append((list(command), stdin))
        if "--push" in command:
            image = command[command.index("--tag") + 1]
            repository, tag = image.split("/", 1)[1].rsplit(":", 1)
            layer = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": layer},
                "layers": [{"digest": layer}],  # moto derives the image digest from these
            }
            ecr = boto3.client("ecr")
            # Pushing the same image again is a no-op for docker too.
            with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
                ecr.put_image(
                    repositoryName=repository, imageTag=tag, imageManifest=json.dumps(manifest)
                )


@pytest.fixture
def docker() -> Docker:
    return Docker()


@pytest.fixture
def deployer(aws_env: str, docker: Docker, unique: str) -> Deployer:
    # The tag stands for the git commit; unique per test, as the repositories are shared.
    return Deployer(f"thumbstat-{unique}", session=boto3.session.Session(), run=docker, tag=unique)


def parameters(unique: str) -> dict[str, str]:
    return {
        "IndexTableName": f"image_metadata-{unique}",
        "ReadingsTableName": f"Shop_Thermostat-{unique}",
    }


def test_repositories_are_created_once_with_scanning_and_a_lifecycle(deployer: Deployer) -> None:
    first = deployer.ensure_repositories()
    assert deployer.ensure_repositories() == first  # idempotent
    ecr = boto3.client("ecr")
    for function in FUNCTIONS:
        [repository] = ecr.describe_repositories(repositoryNames=[function.repository])[
            "repositories"
        ]
        assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
        policy = ecr.get_lifecycle_policy(repositoryName=function.repository)
        assert json.loads(policy["lifecyclePolicyText"]) == LIFECYCLE_POLICY


def test_deploy_builds_for_arm64_pushes_and_deploys_by_digest(
    deployer: Deployer, docker: Docker, moto_template: Path, unique: str
) -> None:
    deployer.deploy(parameters(unique), moto_template)

    login, *builds = docker.commands
    assert login[0][:4] == ["docker", "login", "--username", "AWS"]
    assert login[1]  # the password goes through stdin, never the command line
    uris = deployer.ensure_repositories()
    assert [command for command, _ in builds] == [
        [
            "docker",
            "buildx",
            "build",
            "--platform",
            "linux/arm64",
            "--file",
            f.dockerfile,
            "--tag",
            f"{uris[f.name]}:{deployer.tag}",
            "--provenance=false",
            "--push",
            ".",
        ]
        for f in FUNCTIONS
    ]
    cloudformation = boto3.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=deployer.stack)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    for function in FUNCTIONS:
        digest = deployer.digest(function)
        assert given[function.image_parameter] == f"{uris[function.name]}@{digest}"
    created = cloudformation.list_stack_resources(StackName=deployer.stack)
    statuses = {
        r["LogicalResourceId"]: r["ResourceStatus"] for r in created["StackResourceSummaries"]
    }
    assert statuses["ResizeFunction"] == statuses["IngestFunction"] == "CREATE_COMPLETE"


def test_deploying_again_updates_the_stack(
    deployer: Deployer, moto_template: Path, unique: str
) -> None:
    deployer.deploy(parameters(unique), moto_template)
    deployer._tag = unique + "-next"  # a new commit: new images, new digests
    deployer.deploy(parameters(unique), moto_template)
    stack = boto3.client("cloudformation").describe_stacks(StackName=deployer.stack)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    resize = next(f for f in FUNCTIONS if f.name == "resize")
    assert given["ResizeImageUri"].endswith(deployer.digest(resize))


@pytest.fixture
def stack(deployer: Deployer, moto_template: Path, unique: str) -> dict[str, str]:
    """A deployed stack and its outputs. Created with CreateStack: moto fills in no Outputs for
    stacks created through a change set, and these tests need them."""
    images = deployer.build_and_push(deployer.ensure_repositories())
    values = {**parameters(unique), **{f.image_parameter: images[f.name] for f in FUNCTIONS}}
    boto3.client("cloudformation").create_stack(
        StackName=deployer.stack,
        TemplateBody=moto_template.read_text(),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
    )
    return deployer.outputs()


def test_deploy_code_points_the_functions_at_the_new_images(
    deployer: Deployer, stack: dict[str, str]
) -> None:
    outputs = stack
    deployer._tag = deployer.tag + "-next"
    images = deployer.deploy_code()
    lambda_ = boto3.client("lambda")
    for function in FUNCTIONS:
        code = lambda_.get_function(FunctionName=outputs[function.output])["Code"]
        assert code["ImageUri"] == images[function.name]
        assert "-next" not in images[function.name]  # pinned by digest, not by tag


def test_missing_image_is_a_clear_error(aws_env: str, unique: str) -> None:
    deployer = Deployer(
        f"thumbstat-{unique}",
        session=boto3.session.Session(),
        run=lambda command, stdin: None,
        tag=unique,
    )
    with pytest.raises(DeployError, match=f"no thumbstat-resize:{unique} in ECR"):
        deployer.build_and_push(deployer.ensure_repositories())


def test_destroy_keeps_the_data_unless_asked(deployer: Deployer, stack: dict[str, str]) -> None:
    outputs = stack
    deployer.destroy()
    cloudformation = boto3.client("cloudformation")
    assert deployer.stack not in {
        s["StackName"]
        for s in cloudformation.list_stacks(
            StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"]
        )["StackSummaries"]
    }
    dynamodb = boto3.client("dynamodb")
    # Every page: the tests share one moto server, which soon holds over 100 tables.
    pages = dynamodb.get_paginator("list_tables").paginate()
    tables = [name for page in pages for name in page["TableNames"]]
    assert outputs["IndexTableName"] in tables and outputs["ReadingsTableName"] in tables
    boto3.client("s3").head_bucket(Bucket=outputs["BucketName"])


def test_dry_run_prints_the_docker_commands(capsys: pytest.CaptureFixture[str]) -> None:
    print_command(
        ["docker", "login", "--username", "AWS", "--password-stdin", "registry"], b"secret"
    )
    print_command(["docker", "buildx", "build", "--platform", "linux/arm64", "."])
    printed = capsys.readouterr().out
    assert "secret" not in printed
    assert "docker buildx build --platform linux/arm64 ." in printed


def test_outputs_name_what_users_need(stack: dict[str, str]) -> None:
    assert {
        "BucketName",
        "UploadQueueUrl",
        "IndexTableName",
        "ReadingsTableName",
        "DevicePolicyArn",
        "ResizeRepositoryUri",
        "IngestRepositoryUri",
    } <= set(stack)


def test_command_line_dry_run_deploys_with_images_already_pushed(
    aws_env: str,
    docker: Docker,
    moto_template: Path,
    unique: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pusher = Deployer("unused", session=boto3.session.Session(), run=docker, tag=git_tag())
    pusher.build_and_push(pusher.ensure_repositories())  # as a CI job would have pushed them

    status = main(
        [
            "deploy",
            "--dry-run",
            "--stack",
            f"thumbstat-{unique}",
            "--template",
            str(moto_template),
            *[f"--param={k}={v}" for k, v in parameters(unique).items()],
        ]
    )

    printed = capsys.readouterr().out
    assert status == 0
    assert "docker buildx build --platform linux/arm64 --file Dockerfile.resize" in printed
    assert "--password-stdin" in printed and "python -m handlers.device.client send" in printed
