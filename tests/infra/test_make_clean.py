"""make clean keeps SAM CLI's virtualenv (minutes to rebuild); make distclean removes it too.
Run for real, with the Makefile, in a scratch directory holding stand-ins for what they remove."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REMOVED_BY_CLEAN = [".venv", ".venv-localstack", ".pytest_cache", ".mypy_cache", ".ruff_cache"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in [*REMOVED_BY_CLEAN, ".venv-sam"]:
        (tmp_path / name / "bin").mkdir(parents=True)
    (tmp_path / "handlers").mkdir()  # what is not the build's stays
    return tmp_path


def make(tree: Path, target: str) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")
    subprocess.run(
        ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "-C", str(tree), target],
        check=True,
        capture_output=True,
        timeout=60,
    )


def left(tree: Path) -> set[str]:
    return {path.name for path in tree.iterdir()}


def test_clean_keeps_the_sam_virtualenv(tree: Path) -> None:
    make(tree, "clean")
    assert left(tree) == {".venv-sam", "handlers"}


def test_distclean_removes_it_too(tree: Path) -> None:
    make(tree, "distclean")
    assert left(tree) == {"handlers"}


def test_the_help_says_so() -> None:
    listed = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    [clean] = [line for line in listed.splitlines() if line.split()[:2] == ["make", "clean"]]
    assert "keeps .venv-sam" in clean
    assert any(line.split()[:2] == ["make", "distclean"] for line in listed.splitlines())
