"""The `aws s3control create-job` commands of docs/batch-operations.md, checked against botocore's
s3control CreateJob model (every option, every JSON structure, every enum), against what the
function accepts (schema version, user arguments) and against the role (manifest and report
locations), so the page cannot drift from any of them."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel
from botocore.validate import validate_parameters

from handlers.index import batch
from tests.conftest import ROOT
from tests.infra.conftest import load_template

DOC = ROOT / "docs" / "batch-operations.md"


@cache
def create_job() -> OperationModel:
    model = botocore.session.get_session().get_service_model("s3control")
    return model.operation_model("CreateJob")


def commands(text: str) -> Iterator[list[str]]:
    """Every create-job command of the page's sh blocks, split as the shell splits it, with the
    page's plain assignments (``NAME=value``, no command substitution) filled in and the other
    variables left as written."""
    assigned: dict[str, str] = {}
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if match := re.fullmatch(r"([A-Z_]+)=([^$\s]*(?:\$[A-Z_]+[^$\s]*)*)", line.strip()):
                assigned[match[1]] = match[2]
            elif line.strip().startswith("aws s3control create-job"):
                words = shlex.split(line)[3:]
                for name, value in assigned.items():
                    words = [word.replace(f"${name}", value) for word in words]
                yield words


def parameters(words: list[str]) -> dict[str, Any]:
    """The CreateJob request the AWS CLI builds from these options; raises ValueError for an
    option it does not know."""
    shape: Any = create_job().input_shape
    options = {xform_name(name, "-"): name for name in shape.members}
    params: dict[str, Any] = {}
    while words:
        option = words.pop(0).removeprefix("--")
        flag = option.removeprefix("no-")
        if flag in options and shape.members[options[flag]].type_name == "boolean":
            params[options[flag]] = not option.startswith("no-")
            continue
        if option not in options:
            raise ValueError(f"create-job has no option --{option}")
        name, value = options[option], words.pop(0)
        kind = shape.members[name].type_name
        params[name] = json.loads(value) if kind in ("structure", "list", "map") else value
        if kind == "integer":
            params[name] = int(value)
    # The CLI fills in an idempotency token itself.
    params.setdefault("ClientRequestToken", "0" * 32)
    return params


def check_enums(value: Any, shape: Any, where: str = "") -> None:
    """botocore's validator checks names, types and required members; enums too, here."""
    if shape.type_name == "structure":
        for name, member in value.items():
            check_enums(member, shape.members[name], f"{where}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            check_enums(item, shape.member, f"{where}[{index}]")
    elif shape.type_name == "string" and shape.enum:
        assert value in shape.enum, f"{where}: {value!r} is not one of {shape.enum}"


def validated(words: list[str]) -> dict[str, Any]:
    params = parameters(list(words))
    shape: Any = create_job().input_shape
    validate_parameters(params, shape)
    check_enums(params, shape)
    return params


DOCUMENTED = list(commands(DOC.read_text()))


def test_the_page_shows_a_job_for_each_manifest_format() -> None:
    formats = {validated(c)["Manifest"]["Spec"]["Format"] for c in DOCUMENTED}
    assert formats == {"S3BatchOperations_CSV_20180820", "S3InventoryReport_CSV_20161130"}


@pytest.mark.parametrize("words", DOCUMENTED, ids=lambda c: f"command-{DOCUMENTED.index(c)}")
def test_each_command_is_a_valid_create_job_request(words: list[str]) -> None:
    params = validated(words)
    assert {"Operation", "Manifest", "Report", "Priority", "RoleArn"} <= set(params)
    assert params["ConfirmationRequired"] is False  # --no-confirmation-required
    assert set(params["Operation"]) == {"LambdaInvoke"}


@pytest.mark.parametrize("words", DOCUMENTED, ids=lambda c: f"command-{DOCUMENTED.index(c)}")
def test_each_command_invokes_the_function_as_it_accepts(words: list[str]) -> None:
    invoke = validated(words)["Operation"]["LambdaInvoke"]
    assert invoke["InvocationSchemaVersion"] in batch.SCHEMA_VERSIONS
    event = {
        "invocationSchemaVersion": invoke["InvocationSchemaVersion"],
        "invocationId": "id",
        "job": {"id": "job", "userArguments": invoke.get("UserArguments", {})},
        "tasks": [],
    }
    assert batch.parse(event).problem == ""


@pytest.mark.parametrize("words", DOCUMENTED, ids=lambda c: f"command-{DOCUMENTED.index(c)}")
def test_each_command_reads_and_writes_where_the_role_may(words: list[str]) -> None:
    params = validated(words)
    defaults = {k: v.get("Default") for k, v in load_template()["Parameters"].items()}
    manifest_key = params["Manifest"]["Location"]["ObjectArn"].split("/", 1)[1]
    assert manifest_key.startswith(defaults["BatchManifestPrefix"])
    report = params["Report"]
    # The job writes its report under PREFIX/job-ID/.
    assert report["Prefix"].rstrip("/") + "/" == defaults["BatchReportPrefix"]
    assert report["Bucket"] == params["Manifest"]["Location"]["ObjectArn"].split("/", 1)[0]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("--priority", "--prio"), ValueError),
        (('"FunctionArn"', '"FunctionARN"'), ParamValidationError),
        (('"Report_CSV_20180820"', '"Report_CSV"'), AssertionError),
        (('"Enabled": true', '"Enabled": "yes"'), ParamValidationError),
        (('"ETag": ', '"Etag": '), ParamValidationError),
    ],
    ids=["option", "member", "enum", "type", "required"],
)
def test_the_check_catches_a_drifted_command(
    change: tuple[str, str], error: type[Exception]
) -> None:
    words = [word.replace(*change) for word in DOCUMENTED[0]]
    with pytest.raises(error):
        validated(words)
