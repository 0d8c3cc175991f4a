"""One flush at a time per spool, between real processes: cron overlapping itself."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from handlers.device.exits import ExitCode
from handlers.device.lock import FlushBusy, flush_lock, lock_path
from tests.unit.device.spooled import ROOT, SEND, cli, command, environment, function, spool_of


def test_a_second_holder_is_refused_at_once_and_the_lock_is_released(tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite3"
    with flush_lock(spool):
        started = time.monotonic()
        with pytest.raises(FlushBusy, match=r"another flush of .* is running"), flush_lock(spool):
            pass
        assert time.monotonic() - started < 1  # no waiting
    with flush_lock(spool):  # released
        pass
    assert lock_path(spool).stat().st_mode & 0o777 == 0o600


def test_concurrent_runs_send_each_reading_once_and_claim_it_once(tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite3"
    dates = [f"2026-11-22T08:{minute:02d}:00Z" for minute in range(6)]
    with function(delay=0.4) as (stand_in, url):
        runs = [
            subprocess.Popen(
                command(spool, *SEND, "--date", date, url=url),
                cwd=ROOT,
                env=environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for date in dates
        ]
        outcomes = [(run.communicate(timeout=120), run.returncode) for run in runs]
        final = cli(spool, "flush", url=url)  # what a later cron run sends
    reports = [json.loads(out) for (out, _), _ in outcomes] + [json.loads(final.stdout)]
    assert {code for _, code in outcomes} <= {ExitCode.SENT, ExitCode.TEMPFAIL}
    for (_, err), code in outcomes:
        assert code == ExitCode.SENT or "another flush of" in err, err
    received = sorted(reading["record_date"] for reading in stand_in.received)
    assert received == dates  # each sent exactly once
    assert sum(int(report["sent"]) for report in reports) == len(dates)  # claimed once


def test_a_killed_flush_leaves_no_lock_behind(tmp_path: Path) -> None:
    spool = spool_of(tmp_path / "spool.sqlite3", 1)
    with function(delay=1.5) as (stand_in, url):
        first = subprocess.Popen(
            command(spool, "flush", url=url), cwd=ROOT, env=environment(), text=True
        )
        while stand_in.arrived == 0:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        again = cli(spool, "flush", url=url)
    assert (again.returncode, again.stderr) == (ExitCode.SENT, "")
    assert json.loads(again.stdout)["sent"] == 1
