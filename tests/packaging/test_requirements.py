"""Each image's pinned requirement set against pyproject.toml, the one statement of what the code
needs: every dependency the function has is pinned at a version pyproject admits, and the set holds
exactly those packages and what they in turn require, nothing else."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from infra.functions import FUNCTIONS, Function

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared(function: Function) -> list[Requirement]:
    """What pyproject says the function needs: the core dependencies, the runtime interface
    client, and the resize extra where the function decodes images."""
    extras = ["lambda", *(["resize"] if function.needs_pillow else [])]
    lines = [
        *PROJECT["dependencies"],
        *(d for e in extras for d in PROJECT["optional-dependencies"][e]),
    ]
    return [Requirement(line) for line in lines]


def pinned(function: Function) -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in (ROOT / function.requirements).read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        assert match, f"{function.requirements}: {line!r} is not pinned with =="
        found[canonicalize_name(match[1])] = Version(match[2])
    return found


def closure(requirements: list[Requirement]) -> set[str]:
    """The requirements' names and everything they require, extras asked for included (by the
    installed metadata, markers evaluated for Linux and this Python)."""
    environment: dict[str, str] = {
        **{key: str(value) for key, value in default_environment().items()},
        "sys_platform": "linux",
        "platform_system": "Linux",
    }
    seen: set[tuple[str, str]] = set()
    todo = [(canonicalize_name(r.name), extra) for r in requirements for extra in ("", *r.extras)]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(
                {**environment, "extra": extra}
            ):
                todo.append((canonicalize_name(requirement.name), ""))
                todo.extend((canonicalize_name(requirement.name), e) for e in requirement.extras)
    return {name for name, _ in seen}


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_every_declared_dependency_is_pinned_within_its_range(function: Function) -> None:
    pins = pinned(function)
    for requirement in declared(function):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{function.requirements} does not pin {name}"
        assert requirement.specifier.contains(pins[name]), (
            f"{function.requirements} pins {name}=={pins[name]}, outside pyproject's {requirement}"
        )


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_the_set_is_the_closure_of_the_declared_dependencies(function: Function) -> None:
    assert set(pinned(function)) == closure(declared(function))


def test_the_functions_need_botocore_not_boto3() -> None:
    names = {canonicalize_name(Requirement(line).name) for line in PROJECT["dependencies"]}
    assert names == {"botocore"}
    for function in FUNCTIONS:
        assert "boto3" not in pinned(function)
