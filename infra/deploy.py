"""Deploy thumbstat to an AWS account: ECR repositories, images, and the CloudFormation stack.

    python -m infra.deploy deploy       [--stack thumbstat] [--param Key=Value ...] [--dry-run]
    python -m infra.deploy deploy-code  [--stack thumbstat] [--dry-run]
    python -m infra.deploy destroy      [--stack thumbstat] [--delete-data]

--dry-run prints the Docker commands instead of running them; the AWS calls are still made
(against AWS_ENDPOINT_URL when set), so images must already be in ECR for the digests to resolve.
Needs AWS credentials and a region (checked first: without either it says which, in one line),
and Docker with buildx for the image builds.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from infra import outputs as stack_outputs
from infra.functions import FUNCTIONS, Function

logger = logging.getLogger("thumbstat.deploy")

ROOT: Final = Path(__file__).resolve().parent.parent
TEMPLATE: Final = ROOT / "infra" / "template.yaml"
PLATFORM: Final = "linux/arm64"
# The template's roles and device policy carry no names: CAPABILITY_IAM, not NAMED_IAM
# (samconfig.toml, for sam deploy, is checked against this).
CAPABILITIES: Final = ("CAPABILITY_IAM",)


# Keep the last 30 commit-tagged images; untagged layers of superseded pushes go after a week.
LIFECYCLE_POLICY: Final = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "untagged after 7 days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "keep the last 30 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
            "action": {"type": "expire"},
        },
    ]
}

Runner = Callable[[Sequence[str], bytes | None], None]


class DeployError(Exception):
    """A step failed; the message says which and why."""


def run_command(command: Sequence[str], stdin: bytes | None = None) -> None:
    if shutil.which(command[0]) is None:
        raise DeployError(f"{command[0]} is not installed (or use --dry-run)")
    logger.info("$ %s", shlex.join(command))
    completed = subprocess.run(command, input=stdin, cwd=ROOT, check=False)
    if completed.returncode:
        raise DeployError(f"{shlex.join(command[:3])} ... exited with {completed.returncode}")


def print_command(command: Sequence[str], stdin: bytes | None = None) -> None:
    shown = shlex.join(command) + (
        " < (password from ecr get-authorization-token)" if stdin else ""
    )
    sys.stdout.write(shown + "\n")


def git_tag() -> str:
    """The commit the images are built from, marked when the tree has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain") else "")
    except (OSError, subprocess.CalledProcessError) as exc:
        raise DeployError("images are tagged with the git commit: run from a git checkout") from exc


class Deployer:
    def __init__(
        self,
        stack: str,
        *,
        session: boto3.session.Session | None = None,
        run: Runner = run_command,
        tag: str | None = None,
    ) -> None:
        session = session or boto3.session.Session()
        self.stack = stack
        self.ecr = session.client("ecr")
        self.cloudformation = session.client("cloudformation")
        self.lambda_ = session.client("lambda")
        self.s3 = session.client("s3")
        self.dynamodb = session.client("dynamodb")
        self.run = run
        self._tag = tag

    @property
    def tag(self) -> str:
        if self._tag is None:
            self._tag = git_tag()
        return self._tag

    # --- ECR and images ---------------------------------------------------------------------
    def ensure_repositories(self) -> dict[str, str]:
        """Create the repositories if missing (scan on push, lifecycle policy); name -> URI."""
        uris = {}
        for function in FUNCTIONS:
            try:
                repository = self.ecr.create_repository(
                    repositoryName=function.repository,
                    imageScanningConfiguration={"scanOnPush": True},
                    imageTagMutability="MUTABLE",  # "-dirty" tags are rebuilt in place
                )["repository"]
            except self.ecr.exceptions.RepositoryAlreadyExistsException:
                repository = self.ecr.describe_repositories(repositoryNames=[function.repository])[
                    "repositories"
                ][0]
            self.ecr.put_lifecycle_policy(
                repositoryName=function.repository, lifecyclePolicyText=json.dumps(LIFECYCLE_POLICY)
            )
            uris[function.name] = repository["repositoryUri"]
        return uris

    def docker_login(self) -> None:
        token = self.ecr.get_authorization_token()["authorizationData"][0]
        user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
        registry = token["proxyEndpoint"].removeprefix("https://")
        self.run(
            ["docker", "login", "--username", user, "--password-stdin", registry], password.encode()
        )

    def build_and_push(self, uris: dict[str, str]) -> dict[str, str]:
        """Build each image for arm64, push it, and return name -> URI pinned by digest."""
        self.docker_login()
        pinned = {}
        for function in FUNCTIONS:
            image = f"{uris[function.name]}:{self.tag}"
            self.run(
                [
                    "docker",
                    "buildx",
                    "build",
                    "--platform",
                    PLATFORM,
                    "--file",
                    function.dockerfile,
                    "--tag",
                    image,
                    "--provenance=false",
                    "--push",
                    ".",
                ],
                None,
            )
            pinned[function.name] = f"{uris[function.name]}@{self.digest(function)}"
        return pinned

    def digest(self, function: Function) -> str:
        try:
            images = self.ecr.describe_images(
                repositoryName=function.repository, imageIds=[{"imageTag": self.tag}]
            )["imageDetails"]
        except self.ecr.exceptions.ImageNotFoundException:
            images = []
        if not images:
            raise DeployError(f"no {function.repository}:{self.tag} in ECR (was it pushed?)")
        return str(images[0]["imageDigest"])

    # --- the stack ----------------------------------------------------------------------------
    def deploy_stack(
        self, images: dict[str, str], parameters: dict[str, str], template: Path = TEMPLATE
    ) -> dict[str, str]:
        exists = self._stack_exists()
        values = {**parameters, **{f.image_parameter: images[f.name] for f in FUNCTIONS}}
        change_set = f"thumbstat-{self.tag}".replace(".", "-")
        self.cloudformation.create_change_set(
            StackName=self.stack,
            ChangeSetName=change_set,
            ChangeSetType="UPDATE" if exists else "CREATE",
            TemplateBody=template.read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            Capabilities=list(CAPABILITIES),
        )
        try:
            self.cloudformation.get_waiter("change_set_create_complete").wait(
                StackName=self.stack, ChangeSetName=change_set, WaiterConfig={"Delay": 5}
            )
        except WaiterError as exc:
            described = self.cloudformation.describe_change_set(
                StackName=self.stack, ChangeSetName=change_set
            )
            reason = str(described.get("StatusReason", ""))
            if "didn't contain changes" in reason or "No updates" in reason:
                self.cloudformation.delete_change_set(
                    StackName=self.stack, ChangeSetName=change_set
                )
                logger.info("the stack is up to date")
                return self.outputs()
            raise DeployError(f"change set failed: {reason}") from exc
        self.cloudformation.execute_change_set(StackName=self.stack, ChangeSetName=change_set)
        waiter = (
            self.cloudformation.get_waiter("stack_update_complete")
            if exists
            else self.cloudformation.get_waiter("stack_create_complete")
        )
        try:
            waiter.wait(StackName=self.stack, WaiterConfig={"Delay": 10, "MaxAttempts": 180})
        except WaiterError as exc:
            raise DeployError("the stack failed:\n" + "\n".join(self.failed_events())) from exc
        return self.outputs()

    def _stack_exists(self) -> bool:
        try:
            stack = self.cloudformation.describe_stacks(StackName=self.stack)["Stacks"][0]
        except ClientError as exc:
            # CloudFormation answers a ValidationError for a missing stack; only its message
            # tells that case from the others.
            if "does not exist" in str(exc):
                return False
            raise
        return stack["StackStatus"] != "REVIEW_IN_PROGRESS"

    def failed_events(self) -> list[str]:
        events = self.cloudformation.describe_stack_events(StackName=self.stack)["StackEvents"]
        return [
            f"{e['LogicalResourceId']} {e['ResourceStatus']}: {e.get('ResourceStatusReason')}"
            for e in events
            if str(e["ResourceStatus"]).endswith("FAILED")
        ]

    def outputs(self) -> dict[str, str]:
        stack = self.cloudformation.describe_stacks(StackName=self.stack)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    # --- the three commands -------------------------------------------------------------------
    def deploy(self, parameters: dict[str, str], template: Path = TEMPLATE) -> dict[str, str]:
        images = self.build_and_push(self.ensure_repositories())
        return self.deploy_stack(images, parameters, template)

    def deploy_code(self) -> dict[str, str]:
        """Build, push and point the functions at the new images; the stack is left as is."""
        outputs = self.outputs()
        images = self.build_and_push(self.ensure_repositories())
        for function in FUNCTIONS:
            name = outputs[function.output]
            self.lambda_.update_function_code(FunctionName=name, ImageUri=images[function.name])
            self.lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
        return images

    def destroy(self, delete_data: bool = False) -> None:
        outputs = self.outputs()
        self.cloudformation.delete_stack(StackName=self.stack)
        self.cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=self.stack, WaiterConfig={"Delay": 10, "MaxAttempts": 180}
        )
        if not delete_data:
            logger.info(
                "kept (Retain): bucket %s, tables %s and %s",
                outputs.get(stack_outputs.BUCKET),
                outputs.get(stack_outputs.INDEX_TABLE),
                outputs.get(stack_outputs.READINGS_TABLE),
            )
            return
        bucket = outputs[stack_outputs.BUCKET]
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            objects: list[Any] = [
                {"Key": o["Key"], "VersionId": o["VersionId"]}
                for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objects:
                self.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        self.s3.delete_bucket(Bucket=bucket)
        for table in (outputs[stack_outputs.INDEX_TABLE], outputs[stack_outputs.READINGS_TABLE]):
            self.dynamodb.delete_table(TableName=table)


# What is missing, and how to set it: one line each, as `make deploy` prints it.
NO_REGION: Final = (
    "no AWS region: set AWS_REGION (e.g. AWS_REGION=eu-west-1 make deploy) or "
    "AWS_DEFAULT_REGION, or a region in ~/.aws/config (aws configure)"
)
NO_CREDENTIALS: Final = (
    "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "or run aws configure (or aws sso login)"
)


def session_from(environ: Mapping[str, str]) -> boto3.session.Session:
    """A session for the account, in AWS_REGION where set: the AWS CLI and the SDKs honour it
    over AWS_DEFAULT_REGION, which is all botocore reads."""
    return boto3.session.Session(region_name=environ.get("AWS_REGION") or None)


def missing_setup(session: boto3.session.Session) -> str | None:
    """What the session lacks to reach AWS, said as the fix; None when it has both."""
    if not session.region_name:
        return NO_REGION
    if session.get_credentials() is None:
        return NO_CREDENTIALS
    return None


def client_command(outputs: dict[str, str]) -> str:
    return (
        f"THUMBSTAT_URL={outputs.get('FunctionUrl', '<FunctionUrl>')} "
        "python -m handlers.device.client send --temperature 65.2 --on --setpoint 64"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["deploy", "deploy-code", "destroy"])
    parser.add_argument("--stack", default="thumbstat")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the Docker commands instead of running them"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter, e.g. FunctionUrlAuthType=NONE",
    )
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument(
        "--delete-data",
        action="store_true",
        help="destroy: also delete the bucket's objects and the tables",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)  # not "Found credentials in ..."

    session = session_from(os.environ)
    missing = missing_setup(session)
    if missing:
        logger.error("%s", missing)
        return 2
    deployer = Deployer(
        args.stack, session=session, run=print_command if args.dry_run else run_command
    )
    try:
        if args.command == "deploy":
            parameters = dict(item.split("=", 1) for item in args.param)
            outputs = deployer.deploy(parameters, args.template)
            sys.stdout.write(json.dumps(outputs, indent=2) + "\n")
            sys.stdout.write(
                "Attach DevicePolicyArn to the thermostat's IAM user, then:\n  "
                + client_command(outputs)
                + "\n"
            )
        elif args.command == "deploy-code":
            sys.stdout.write(json.dumps(deployer.deploy_code(), indent=2) + "\n")
        else:
            deployer.destroy(args.delete_data)
    except DeployError as exc:
        logger.error("%s", exc)
        return 1
    except (BotoCoreError, ClientError) as exc:
        # Expired credentials, a denied call, an unreachable endpoint: botocore's message says
        # which, and a traceback would add nothing the user can act on.
        logger.error("%s: %s", args.command, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
