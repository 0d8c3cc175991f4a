"""The deploy template, as CloudFormation reads it, and the variant moto's server can deploy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from infra.deploy import TEMPLATE

# moto's CloudFormation has no AWS::Lambda::Url: those resources (and the outputs that read
# them) are left out of what is deployed to it, and their properties are checked from the
# template instead.
NOT_IN_MOTO = {"AWS::Lambda::Url"}
DIGEST = "sha256:" + "0123456789abcdef" * 4


def load_template() -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    return template


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


def for_moto(template: dict[str, Any]) -> dict[str, Any]:
    left_out = [k for k, v in template["Resources"].items() if v["Type"] in NOT_IN_MOTO]
    copy: dict[str, Any] = json.loads(json.dumps(template))
    for name in left_out:
        del copy["Resources"][name]
    copy["Outputs"] = {
        k: v
        for k, v in copy["Outputs"].items()
        if not any(name in json.dumps(v) for name in left_out)
    }
    # moto turns a Number parameter into an int, which Fn::FindInMap then misses among the
    # mapping's keys (strings); CloudFormation passes parameters as strings.
    for name in _map_keys(copy["Resources"]):
        parameter = copy["Parameters"][name]
        if parameter["Type"] == "Number":
            parameter.update(Type="String", Default=str(parameter["Default"]))
            parameter["AllowedValues"] = [str(v) for v in parameter.get("AllowedValues", [])]
    return copy


def _map_keys(value: Any) -> set[str]:
    """The parameters referenced as keys of a Fn::FindInMap."""
    if isinstance(value, list):
        return {name for v in value for name in _map_keys(v)}
    if not isinstance(value, dict):
        return set()
    found = {name for v in value.values() for name in _map_keys(v)}
    if "Fn::FindInMap" in value:
        found |= {
            k["Ref"] for k in value["Fn::FindInMap"][1:] if isinstance(k, dict) and "Ref" in k
        }
    return found


@pytest.fixture
def moto_template(template: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(for_moto(template)))
    return path
