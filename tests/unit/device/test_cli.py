"""The command line: its usage errors, its help, its spellings, and the summary as a person reads
it."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from handlers.device import cli, client, sender, spool, transport
from handlers.device.exits import MEANING, ExitCode
from tests.unit.device.spooled import cli as run
from tests.unit.device.spooled import function

ROOT = Path(__file__).resolve().parents[3]
SUBCOMMANDS = ["send", "flush", "pending", "summary", "chart"]


def test_usage_errors_exit_2_on_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("THUMBSTAT_URL", raising=False)
    for args in (["flush"], ["--url", "http://127.0.0.1:9", "summary", "--from", "2026-11-01"]):
        with pytest.raises(SystemExit) as usage:
            cli.main(["--spool", str(tmp_path / "s"), *args])
        assert usage.value.code == ExitCode.USAGE
        assert len(capsys.readouterr().err.splitlines()) == 1


def test_pending_needs_no_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--spool", str(tmp_path / "s"), "pending"]) == 0
    assert capsys.readouterr().out == "0\n"


@pytest.mark.parametrize("subcommand", ["", *SUBCOMMANDS])
def test_help_is_plain_text(subcommand: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([subcommand, "--help"] if subcommand else ["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: thumbstat-client")
    assert "`" not in text and "**" not in text and "](" not in text
    assert not re.search(r"^\s*#", text, re.MULTILINE)  # no markdown headings
    assert max(len(line) for line in text.splitlines()) <= 100


def test_the_help_lists_every_exit_code_once() -> None:
    text = cli.build_parser().format_help()
    listed = [int(code) for code in re.findall(r"^  (\d+) ", text, re.MULTILINE)]
    assert listed == [code.value for code in MEANING] == [code.value for code in ExitCode]


def test_thumbstat_client_is_the_command_line() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    module, _, name = project["scripts"]["thumbstat-client"].partition(":")
    assert getattr(importlib.import_module(module), name) is cli.main
    installed = [e for e in entry_points(group="console_scripts") if e.name == "thumbstat-client"]
    # Installed metadata is as fresh as the last `make install`; when it has the script, it is
    # this one.
    assert [e.load() for e in installed] in ([], [cli.main])


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


DAY = {
    "tz": "Europe/London",
    "gap_minutes": 20,
    "days": [
        {
            "day": "2026-11-21",
            "count": 144,
            "temperature_min": 18.5,
            "temperature_max": 21.25,
            "temperature_mean": 19.8,
            "setpoints": [18, 20],
            "heating_minutes": 180.0,
            "known_minutes": 1430.0,
            "heating_share": 0.1259,
            "gaps": [
                {
                    "from": "2026-11-21T23:50:00+00:00",
                    "to": "2026-11-22T00:00:00+00:00",
                    "minutes": 10.0,
                }
            ],
        },
        {
            "day": "2026-11-22",
            "count": 1,
            "temperature_min": 20,
            "temperature_max": 20,
            "temperature_mean": 20,
            "setpoints": [20],
            "heating_minutes": 0,
            "known_minutes": 20,
            "heating_share": 0,
            "gaps": [],
        },
        {"day": "2026-11-23", "count": 0, "heating_minutes": 0, "known_minutes": 0, "gaps": []},
    ],
}


def test_the_summary_prints_each_figure_with_its_unit() -> None:
    assert cli.summary_text(DAY).splitlines() == [
        "2026-11-21 (Europe/London): 144 readings",
        "  temperature 18.5° to 21.25°, mean 19.8°",
        "  setpoint 18, 20",
        "  heating 180 minutes of 1430 known minutes (12.6%)",
        "  gap over 20 minutes: 23:50 to 00:00 (10 minutes)",
        "2026-11-22 (Europe/London): 1 reading",
        "  temperature 20° to 20°, mean 20°",
        "  setpoint 20",
        "  heating 0 minutes of 20 known minutes (0%)",
        "  no gaps over 20 minutes",
        "2026-11-23 (Europe/London): 0 readings",
        "  heating 0 minutes of 0 known minutes",
        "  no gaps over 20 minutes",
    ]


def test_summary_from_the_function_as_text_or_as_its_json(tmp_path: Path) -> None:
    day = ("summary", "--day", "2026-11-21")
    with function(answer=DAY, status=200) as (_, url):
        text = run(tmp_path / "s", *day, url=url)
        answer = run(tmp_path / "s", *day, "--json", url=url)
    assert (text.returncode, text.stderr) == (0, "")
    assert text.stdout == cli.summary_text(DAY)
    assert {k: v for k, v in json.loads(answer.stdout).items() if k != "request_id"} == DAY
    assert not (tmp_path / "s").exists()  # reading needs no spool


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, ExitCode.SET_ASIDE), (403, ExitCode.CONFIG), (404, ExitCode.CONFIG)],
)
def test_summary_refused(status: int, code: ExitCode, tmp_path: Path) -> None:
    with function(status=status) as (_, url):
        done = run(tmp_path / "s", "summary", "--day", "2026-11-21", url=url)
    assert done.returncode == code
    assert f"{status}: refused by the stand-in" in done.stderr
    assert len(done.stderr.splitlines()) == 1
