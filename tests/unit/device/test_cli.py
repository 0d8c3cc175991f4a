"""The command line's usage errors, and its two spellings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from handlers.device import cli, client, sender, spool, transport

ROOT = Path(__file__).resolve().parents[3]


def test_usage_errors_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("THUMBSTAT_URL", raising=False)
    for args in (["flush"], ["--url", "http://127.0.0.1:9", "summary", "--from", "2026-11-01"]):
        with pytest.raises(SystemExit) as usage:
            cli.main(["--spool", str(tmp_path / "s"), *args])
        assert usage.value.code == 2


def test_pending_needs_no_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--spool", str(tmp_path / "s"), "pending"]) == 0
    assert capsys.readouterr().out == "0\n"


def test_the_old_module_is_an_alias_of_the_new_ones() -> None:
    assert client.ReadingClient is sender.ReadingClient
    assert client.Spool is spool.Spool
    assert client.Answer is transport.Answer
    assert client.main is cli.main


@pytest.mark.parametrize("module", ["handlers.device", "handlers.device.client"])
def test_both_spellings_run_the_command_line(module: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--spool", str(tmp_path / "s"), "pending"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "0\n", "")
