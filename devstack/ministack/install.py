"""Installing MiniStack, from PyPI only: a virtualenv (``.venv-ministack``) with
``requirements.txt`` beside this file, MiniStack and the ``aws`` CLI the ready hook calls.

MiniStack pins botocore exactly, so it gets a virtualenv of its own. It runs on Python 3.10 or
later: the interpreter running this (the project's, 3.11 or later) creates it, unless
``MINISTACK_PYTHON`` names another.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devstack.localstack.install import (
    InstallError,
    Virtualenv,
    python_version,
    run_step,
    venv_path,
)

HERE: Final = Path(__file__).resolve().parent
REQUIREMENTS: Final = HERE / "requirements.txt"
VERSION: Final = "1.5.33"  # as requirements.txt pins it
PYTHON_MIN: Final = (3, 10)  # its Requires-Python

__all__ = ["VERSION", "InstallError", "Layout", "default_venv", "find_python", "install"]


def default_venv(environ: Mapping[str, str] | None = None) -> Path:
    return venv_path("MINISTACK_VENV", ".venv-ministack", environ)


@dataclass(frozen=True)
class Layout(Virtualenv):
    """Where an installation keeps its parts."""

    def missing(self) -> list[str]:
        """What an installation lacks (nothing: ready to start)."""
        absent = []
        if not any(self.venv.glob(f"lib/python3*/site-packages/ministack-{VERSION}.dist-info")):
            absent.append(f"ministack {VERSION}")
        if not (self.bin / "aws").exists():
            absent.append("the aws CLI")
        return absent


def find_python(environ: Mapping[str, str] | None = None) -> str | None:
    """``MINISTACK_PYTHON`` when set, else this interpreter; None when it is older than 3.10."""
    environ = os.environ if environ is None else environ
    python = environ.get("MINISTACK_PYTHON") or sys.executable
    version = python_version(python)
    return python if version is not None and version >= PYTHON_MIN else None


def install(layout: Layout, python: str) -> None:
    """Create or complete the installation (pip skips what is already installed)."""
    if not layout.python.exists():
        run_step([python, "-m", "venv", str(layout.venv)], "creating the virtualenv")
    run_step(
        [
            str(layout.python),
            *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("-r", str(REQUIREMENTS)),
        ],
        "installing ministack",
    )
