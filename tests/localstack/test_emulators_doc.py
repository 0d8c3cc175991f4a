"""docs/emulators.md against the tests it names (in the default run: no emulator needed)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
DOC: Final = ROOT / "docs" / "emulators.md"
NAMED_TEST: Final = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _table_rows(text: str) -> list[str]:
    """The rows of the first table (after its header and separator)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_row_of_the_table_names_a_test() -> None:
    rows = _table_rows(DOC.read_text())
    assert len(rows) >= 8
    assert [row for row in rows if not NAMED_TEST.search(row)] == []


def test_every_test_the_doc_names_exists() -> None:
    named = NAMED_TEST.findall(DOC.read_text())
    assert named
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not (ROOT / path).is_file() or name not in _tests_in(ROOT / path)
    ]
    assert missing == []
