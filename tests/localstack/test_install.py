"""How the LocalStack tier finds its Python 3.13 (in the default run: no LocalStack needed).
The candidates are stand-in interpreters answering a version, as a real one answers
``print(*sys.version_info[:2])``."""

from __future__ import annotations

import sys
from pathlib import Path

from devstack.localstack.install import find_python, python_version


def fake_python(path: Path, version: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return str(path)


def test_a_real_interpreter_reports_its_version() -> None:
    assert python_version(sys.executable) == sys.version_info[:2]
    assert python_version("/nonexistent/python3.13") is None


def test_python313_on_path_comes_before_pyenv(tmp_path: Path) -> None:
    on_path = fake_python(tmp_path / "bin" / "python3.13", "3 13")
    fake_python(tmp_path / "pyenv/versions/3.13.1/bin/python3.13", "3 13")
    found = find_python({"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv")})
    assert found == on_path


def test_pyenv_is_searched_and_a_wrong_version_on_path_is_passed_over(tmp_path: Path) -> None:
    fake_python(tmp_path / "bin" / "python3.13", "3 12")  # e.g. a stale shim
    wanted = fake_python(tmp_path / "pyenv/versions/3.13.0/bin/python3.13", "3 13")
    found = find_python({"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv")})
    assert found == wanted


def test_nothing_found_is_none(tmp_path: Path) -> None:
    assert find_python({"PATH": str(tmp_path), "PYENV_ROOT": str(tmp_path / "none")}) is None


def test_localstack_python_is_the_only_candidate_when_set(tmp_path: Path) -> None:
    fake_python(tmp_path / "bin" / "python3.13", "3 13")
    environ = {"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv")}
    chosen = fake_python(tmp_path / "chosen" / "python", "3 13")
    assert find_python({**environ, "LOCALSTACK_PYTHON": chosen}) == chosen
    assert find_python({**environ, "LOCALSTACK_PYTHON": sys.executable}) is None  # not 3.13
