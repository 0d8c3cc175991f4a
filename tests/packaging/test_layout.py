"""The layout's one rule, checked on the import graph: the product (handlers/) depends on nothing
of the tooling beside it (devstack/, bench/, infra/, tests/), and tooling depends on the tests
never. Every import counts, including those inside functions and under TYPE_CHECKING."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("handlers", "devstack", "bench", "infra", "tests")
# What the product may import besides itself and the standard library: the functions' runtime
# (botocore), the resize function's codecs (PIL, pillow_heif, pyvips), and type stubs that
# exist only for mypy.
PRODUCT_THIRD_PARTY = frozenset({"botocore", "PIL", "pillow_heif", "pyvips"})
TYPE_STUBS = "mypy_boto3_"
# package -> the first-party packages it may import
ALLOWED = {
    "handlers": {"handlers"},
    "devstack": {"handlers", "devstack", "infra"},
    "infra": {"handlers", "infra"},
    "bench": {"handlers", "devstack", "bench"},
    "tests": set(PACKAGES),
}


def imported(path: Path) -> set[str]:
    """The top-level names a module imports (absolute imports; relative ones stay inside)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_first_party_imports_follow_the_layout(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in imported(path) & set(PACKAGES)
        if name not in ALLOWED[package]
    }
    assert not wrong


def test_the_product_imports_only_its_runtime() -> None:
    """handlers/ ships in the images: no moto, no boto3, no test or bench library in it."""
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("handlers")
        for name in imported(path)
        if name not in sys.stdlib_module_names
        and name not in PRODUCT_THIRD_PARTY
        and name != "handlers"
        and not name.startswith(TYPE_STUBS)
    }
    assert not wrong


def test_the_product_package_is_all_that_is_shipped() -> None:
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["packages"] == ["handlers"]
