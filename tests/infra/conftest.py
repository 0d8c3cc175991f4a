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
    return copy


@pytest.fixture
def moto_template(template: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(for_moto(template)))
    return path
