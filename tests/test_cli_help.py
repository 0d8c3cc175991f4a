"""Every tooling command line's --help renders as plain text: its description is the module's
docstring, shown as written, so it must carry no reStructuredText or Markdown markup. Found from
the tree (each module of devstack/, infra/ and bench/ run as a program that parses arguments),
never listed by hand; the device client's help is tested with the device client."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLING = ("devstack", "infra", "bench")
# infra/reconcile.py: in progress elsewhere at the time of writing; see the report.
MARKUP = re.compile(r"`|\*\*|\]\(|^#+ ", re.MULTILINE)


def programs() -> list[str]:
    """Modules run with python -m that take arguments through argparse."""
    found = []
    for package in TOOLING:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            if path.name == "__main__.py":  # a package run as a program (its parser may be shared)
                found.append(".".join(path.parent.relative_to(ROOT).parts))
            elif "argparse" in text and 'if __name__ == "__main__"' in text:
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


@cache
def help_text(module: str) -> str:
    """``python -m module --help``: its standard output (raises when it does not exit 0)."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"python -m {module} --help exited {result.returncode}: {result.stderr}"
        )
    return result.stdout


def test_the_programs_are_found() -> None:
    found = programs()
    assert {"infra.deploy", "devstack.invoke", "devstack.demo", "infra.runtime_cost"} <= set(found)
    assert "devstack.localstack" in found  # a package's __main__.py
    assert not any(name.startswith("handlers") for name in found)


@pytest.mark.parametrize("module", programs())
def test_help_is_plain_text(module: str) -> None:
    text = help_text(module)
    assert text.startswith("usage: "), text[:200]
    marked = [line for line in text.splitlines() if MARKUP.search(line)]
    assert not marked, "\n".join(marked)


@pytest.mark.parametrize(
    "line", ["run ``make up``", "see `make up`", "**not**", "[the docs](docs/x.md)", "## Usage"]
)
def test_markup_is_recognised(line: str) -> None:
    assert MARKUP.search(line)


@pytest.mark.parametrize("line", ["make up's output", "a * b", "#1 in a list", "a[0] (the first)"])
def test_plain_text_is_not_markup(line: str) -> None:
    assert not MARKUP.search(line)
