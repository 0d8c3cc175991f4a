"""docs/device-client.md's tables are the code's: handlers.device.exits."""

from __future__ import annotations

from pathlib import Path

from handlers.device.exits import FAILURES, MEANING, ExitCode

PAGE = Path(__file__).resolve().parents[3] / "docs" / "device-client.md"


def table(header: str) -> list[list[str]]:
    """The rows of the page's table whose header row is ``header``, cells stripped."""
    lines = PAGE.read_text().splitlines()
    start = lines.index(header) + 2  # past the header and its --- row
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def code(cell: str) -> ExitCode:
    assert cell.startswith("`") and cell.endswith("`"), cell
    return ExitCode(int(cell.strip("`")))


def test_the_failure_table_is_exits_failures() -> None:
    rows = table("| failure | what the client does | exit code |")
    assert [(failure, code(exit_code)) for failure, _, exit_code in rows] == list(FAILURES.items())
    assert all(does for _, does, _ in rows)


def test_the_exit_code_table_is_exits_meanings() -> None:
    rows = table("| code | meaning |")
    assert [(code(cell), meaning) for cell, meaning in rows] == list(MEANING.items())
    assert list(MEANING) == list(ExitCode)
