"""README.md and docs/*.md against the code: every command of their fenced blocks that can be
checked here is. A `make TARGET VAR=...` line names a target of the Makefile and variables its
recipes read (ARGS=... is checked as the options of the program the recipe runs); a
`python -m MODULE ...` line of this project names a module whose --help lists every option used
(with its subcommand's help: `send --temperature`), and `--param KEY=VALUE` names a template
parameter. Beside them, facts the docs repeat: the demo's numbered steps, what the ingest role
may do, and the exit status of make invoke."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.infra.conftest import load_template
from tests.test_cli_help import help_text

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGES = ("handlers", "devstack", "infra", "bench")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Command:
    doc: str
    line: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.doc}: {self.line}"


def commands() -> Iterator[Command]:
    """Each command of each fenced block: continuation lines joined, prompts and comments gone,
    leading VAR=value assignments dropped, `a && b` split."""
    for path in DOCS:
        for block in FENCE.findall(path.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip().removeprefix("$ ")
                for part in line.split("&&"):
                    try:
                        argv = shlex.split(part, comments=True)
                    except ValueError:
                        continue  # not shell (output, JSON)
                    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0]):
                        argv = argv[1:]
                    if argv:
                        yield Command(path.name, part.strip(), tuple(argv))


def make_lines() -> list[Command]:
    return [c for c in commands() if c.argv[0] == "make"]


def python_lines() -> list[Command]:
    """python -m MODULE lines for this project's modules."""
    found = []
    for command in commands():
        argv = command.argv
        python = re.fullmatch(r"(\S*/)?python3?", argv[0]) and len(argv) > 2
        if python and argv[1] == "-m" and argv[2].split(".")[0] in PACKAGES:
            found.append(command)
    return found


# --- the Makefile ---------------------------------------------------------------------------
@cache
def makefile() -> str:
    return (ROOT / "Makefile").read_text()


def targets() -> set[str]:
    return set(re.findall(r"^([a-z0-9][a-z0-9-]*):(?!=)", makefile(), re.MULTILINE))


def recipe(target: str) -> str:
    """The target's recipe lines."""
    matched = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)*)", makefile(), re.MULTILINE)
    assert matched, target
    return matched.group(1)


def options(argv: tuple[str, ...] | list[str]) -> list[str]:
    return [token.split("=", 1)[0] for token in argv if token.startswith("--")]


# --- a program's help -----------------------------------------------------------------------
@cache
def subcommand_help(module: str, subcommand: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, subcommand, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout if result.returncode == 0 else ""


def full_help(module: str, args: tuple[str, ...] | list[str]) -> str:
    """The module's help, with its subcommand's (the first argument among its choices)."""
    text = help_text(module)
    choices = set()
    usage = text.split("\n\n")[0]
    for group in re.findall(r"\{([a-z0-9,-]+)\}", usage):
        choices |= set(group.split(","))
    chosen = next((a for a in args if a in choices), None)
    return text + (subcommand_help(module, chosen) if chosen else "")


def check_options(module: str, args: tuple[str, ...] | list[str]) -> list[str]:
    """The options ``args`` use that the module's help does not list."""
    text = full_help(module, args)
    return [o for o in options(args) if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]


def check_params(args: tuple[str, ...] | list[str]) -> list[str]:
    """--param KEY=VALUE items naming no template parameter."""
    parameters = load_template()["Parameters"]
    given = [a.split("=", 1)[1] for a in args if a.startswith("--param=")]
    given += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--param"]
    return [g for g in given if g.split("=", 1)[0] not in parameters]


# --- the tests ------------------------------------------------------------------------------
def test_the_docs_hold_commands_of_both_kinds() -> None:
    assert len(make_lines()) > 20
    assert len(python_lines()) > 3


@pytest.mark.parametrize("command", make_lines(), ids=str)
def test_make_lines_name_targets_and_variables_that_exist(command: Command) -> None:
    words = [a for a in command.argv[1:] if not a.startswith("-")]
    assignments = dict(a.split("=", 1) for a in words if "=" in a)
    named = [a for a in words if "=" not in a]
    assert named, "a bare make: the help listing"
    assert set(named) <= targets(), sorted(set(named) - targets())
    for variable in assignments:
        assert f"$({variable})" in makefile(), variable
    if "ARGS" in assignments:
        ran = [line for t in named for line in recipe(t).splitlines() if "$(ARGS)" in line]
        for line in ran:
            module, *rest = line.split(" -m ", 1)[1].replace("$(ARGS)", "").split()
            args = [*rest, *shlex.split(assignments["ARGS"])]
            assert check_options(module, args) == [], line
            assert check_params(args) == []


@pytest.mark.parametrize("command", python_lines(), ids=str)
def test_python_lines_use_options_the_program_has(command: Command) -> None:
    module, *args = command.argv[2:]
    assert check_options(module, args) == []
    assert check_params(args) == []


def test_an_unknown_option_or_target_would_be_caught() -> None:
    assert check_options("infra.deploy", ["deploy", "--no-such-option"]) == ["--no-such-option"]
    assert check_options("infra.deploy", ["deploy", "--dry-run", "--param", "A=B"]) == []
    assert check_params(["--param", "NoSuchParameter=1"]) == ["NoSuchParameter=1"]
    assert "no-such-target" not in targets() and {"demo", "invoke", "clean"} <= targets()


# --- facts the docs repeat ------------------------------------------------------------------
def demo_steps() -> dict[str, str]:
    """The demo's numbered steps, title (up to its first interpolation) -> number."""
    source = (ROOT / "devstack" / "demo.py").read_text()
    steps = re.findall(r'out\(f?"\\n(\d+)\. ([^"{]*)', source)
    return {title.strip(): number for number, title in steps if title.strip()}


def test_the_docs_number_the_demos_steps_as_it_does() -> None:
    steps = demo_steps()
    assert len(steps) >= 6
    seen = 0
    for path in DOCS:
        for block in FENCE.findall(path.read_text()):
            for number, title in re.findall(r"^(\d+)\. (.+)$", block, re.MULTILINE):
                for known, expected in steps.items():
                    if title.startswith(known):
                        seen += 1
                        assert number == expected, f"{path.name}: {number}. {title}"
    assert seen >= len(steps)


def test_the_docs_grant_ingest_what_its_role_grants() -> None:
    """docs/ingest.md and docs/deploy.md name the ingest role's DynamoDB actions, all of them."""
    role = load_template()["Resources"]["IngestRole"]["Properties"]
    granted = {
        action
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action.startswith("dynamodb:")
    }
    ingest = (ROOT / "docs" / "ingest.md").read_text()
    named = set(re.findall(r"`(dynamodb:[A-Za-z]+)`", ingest))
    assert named == granted
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    sentence = deploy[deploy.index("Ingest may") :].split(":", 1)[0]
    assert set(re.findall(r"`([A-Za-z]+)`", sentence)) == {a.split(":")[1] for a in granted}


@pytest.mark.slow
def test_make_invoke_exits_as_documented(tmp_path: Path) -> None:
    """A failed invocation: devstack.invoke exits 1, and make, as for any failed recipe, 2;
    docs/local-stack.md says both. Usage without FUNCTION is 2 as well."""
    if shutil.which("make") is None:
        pytest.skip("no make")
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}
        )
    )

    def make(*args: str) -> subprocess.CompletedProcess[str]:
        # -o: never reinstall .venv from here, whatever pyproject.toml's time.
        return subprocess.run(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "invoke", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    failed = make("FUNCTION=resize", f"EVENT={broken}", "ENDPOINT=")
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert '"errorType": "Unreadable"' in failed.stdout
    direct = subprocess.run(
        [sys.executable, "-m", "devstack.invoke", "resize", str(broken), "--in-place"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert direct.returncode == 1, direct.stderr
    assert make().returncode == 2
    documented = (ROOT / "docs" / "local-stack.md").read_text()
    assert "(`make invoke` then exits 2" in documented
